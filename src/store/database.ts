import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { PrismaPg } from '@prisma/adapter-pg';
import type { SqlMigrationAwareDriverAdapterFactory } from '@prisma/driver-adapter-utils';
import { PrismaPGlite } from 'pglite-prisma-adapter';
import pg from 'pg';
import { PrismaClient } from '../generated/prisma/client.ts';

/** Which engine serves the database. */
export type DatabaseKind = 'postgres' | 'pglite';

/** A connected Prisma client plus what migrations and shutdown need. */
export interface Database {
  readonly kind: DatabaseKind;
  readonly prisma: PrismaClient;
  /**
   * The client for queries (history, analytics, replays): its own pool under
   * statement_timeout when `queryPoolSize` was given for a real server, so
   * queries can never take the writer's connections; else `prisma` itself
   * (PGlite has one connection for everything).
   */
  readonly queries: PrismaClient;
  /** The driver adapter factory the client uses (also used by the migration engine). */
  readonly adapterFactory: SqlMigrationAwareDriverAdapterFactory;
  /** Disconnects Prisma and closes the pool or the embedded database. */
  close(): Promise<void>;
}

/** Options of {@link openDatabase}. */
export interface DatabaseOptions {
  /** postgres:// URL; null opens embedded PGlite under `dataDir` (or in memory when dataDir is null). */
  readonly databaseUrl: string | null;
  /** Folder for the embedded database; null keeps it in memory (tests). */
  readonly dataDir: string | null;
  /** Pool size for a real server (the writer's pool when `queryPoolSize` is given). Default 10. */
  readonly poolSize?: number;
  /** Size of a separate pool for queries (see Database.queries); none by default. */
  readonly queryPoolSize?: number;
  /** statement_timeout of the query pool, ms; 0 or absent: none. */
  readonly queryTimeoutMs?: number;
  /**
   * application_name of every connection: the cluster tells a live process
   * by it, and ends the connections of one presumed dead (src/cluster).
   */
  readonly applicationName?: string;
  /** Called with pool errors (a dropped idle connection must not crash the process). */
  readonly onError?: (error: Error) => void;
}

/** How much longer than its statements a query transaction may last (its other statements, the round trips). */
const TRANSACTION_MARGIN_MS = 5_000;

/** The pool and client of queries: statement_timeout on every connection, so a slow query ends with SQLSTATE 57014. */
function queryPool(url: string, size: number, timeoutMs: number, onError: (error: Error) => void): { pool: pg.Pool; prisma: PrismaClient } {
  const pool = new pg.Pool({ connectionString: url, max: size, ...(timeoutMs > 0 ? { statement_timeout: timeoutMs } : {}) });
  pool.on('error', onError);
  // Prisma bounds a transaction (the analytics run theirs) by 5 s and its wait for a connection by 2 s by default:
  // under load those, not statement_timeout, would end queries, with INTERNAL_SERVER_ERROR. QUERY_TIMEOUT governs instead.
  const transactionOptions = timeoutMs > 0 ? { maxWait: timeoutMs, timeout: timeoutMs + TRANSACTION_MARGIN_MS } : { maxWait: 60_000, timeout: 600_000 };
  const prisma = new PrismaClient({ adapter: new PrismaPg(pool, { onPoolError: onError, onConnectionError: onError }), transactionOptions });
  return { pool, prisma };
}

/**
 * Opens the database the configuration names: Postgres through
 * @prisma/adapter-pg, or embedded PGlite through pglite-prisma-adapter.
 */
export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  const onError = options.onError ?? (() => undefined);
  if (options.databaseUrl !== null) {
    const pool = new pg.Pool({
      connectionString: options.databaseUrl,
      max: options.poolSize ?? 10,
      ...(options.applicationName === undefined ? {} : { application_name: options.applicationName }),
    });
    pool.on('error', onError);
    const adapterFactory = new PrismaPg(pool, { onPoolError: onError, onConnectionError: onError });
    const prisma = new PrismaClient({ adapter: adapterFactory });
    const reads = options.queryPoolSize === undefined ? null : queryPool(options.databaseUrl, options.queryPoolSize, options.queryTimeoutMs ?? 0, onError);
    return {
      kind: 'postgres',
      prisma,
      queries: reads?.prisma ?? prisma,
      adapterFactory,
      async close() {
        await reads?.prisma.$disconnect();
        await reads?.pool.end();
        await prisma.$disconnect();
        await pool.end();
      },
    };
  }
  let dataDir: string | undefined;
  if (options.dataDir !== null) {
    dataDir = path.resolve(options.dataDir, 'pglite');
    await mkdir(dataDir, { recursive: true });
  }
  const pglite = dataDir === undefined ? new PGlite() : new PGlite(dataDir);
  await pglite.waitReady;
  const adapterFactory = new PrismaPGlite(pglite);
  const prisma = new PrismaClient({ adapter: adapterFactory });
  return {
    kind: 'pglite',
    prisma,
    queries: prisma,
    adapterFactory,
    async close() {
      await prisma.$disconnect();
      await pglite.close();
    },
  };
}
