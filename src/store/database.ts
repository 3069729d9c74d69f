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
  /** Pool size for a real server. Default 10. */
  readonly poolSize?: number;
  /**
   * application_name of every connection: the cluster tells a live process
   * by it, and ends the connections of one presumed dead (src/cluster).
   */
  readonly applicationName?: string;
  /** Called with pool errors (a dropped idle connection must not crash the process). */
  readonly onError?: (error: Error) => void;
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
    return {
      kind: 'postgres',
      prisma,
      adapterFactory,
      async close() {
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
    adapterFactory,
    async close() {
      await prisma.$disconnect();
      await pglite.close();
    },
  };
}
