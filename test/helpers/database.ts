import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openDatabase, type Database } from '../../src/store/database.ts';
import { applyMigrations } from '../../src/store/migrate.ts';

/** The server tests use: TEST_DATABASE_URL, or the local Postgres of the CI machine. */
export const ADMIN_URL = process.env['TEST_DATABASE_URL'] ?? 'postgresql://postgres@127.0.0.1:5432/postgres';

let serverAnswers: boolean | undefined;

/** True when a Postgres server answers at ADMIN_URL (checked once per process). */
export async function postgresAvailable(): Promise<boolean> {
  if (serverAnswers !== undefined) return serverAnswers;
  const client = new pg.Client({ connectionString: ADMIN_URL, connectionTimeoutMillis: 2_000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    serverAnswers = true;
  } catch {
    serverAnswers = false;
    process.stderr.write(`notice: no Postgres server answers at ${ADMIN_URL}; falling back to embedded PGlite\n`);
  } finally {
    await client.end().catch(() => undefined);
  }
  return serverAnswers;
}

/** A fresh, migrated database for one test file. */
export interface TestDatabase {
  /** postgres:// URL of the fresh database, or null when running on in-memory PGlite. */
  readonly url: string | null;
  /** Drops the database (Postgres) or does nothing (PGlite: the server owns it). */
  drop(): Promise<void>;
}

function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

/**
 * Creates `sessions_test_<random>` on the local server and applies the
 * migrations (unless `migrate: false`: an empty database). Without a server it returns url null: the caller then starts
 * the service on in-memory PGlite (a notice says so once).
 */
export async function createTestDatabase(options: { migrate?: boolean } = {}): Promise<TestDatabase> {
  if (!(await postgresAvailable())) return { url: null, drop: async () => undefined };
  const name = `sessions_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = withDatabase(ADMIN_URL, name);
  if (options.migrate ?? true) {
    const db = await openDatabase({ databaseUrl: url, dataDir: null, poolSize: 2 });
    try {
      await applyMigrations(db.adapterFactory);
    } finally {
      await db.close();
    }
  }
  return {
    url,
    async drop() {
      const client = new pg.Client({ connectionString: ADMIN_URL });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}

/**
 * Opens a Prisma client on a test database: the Postgres URL, or when null a
 * new in-memory PGlite with the migrations applied (as createTestDatabase
 * applies them on the server).
 */
export async function openTestDatabase(url: string | null): Promise<Database> {
  const db = await openDatabase({ databaseUrl: url, dataDir: null, poolSize: 4 });
  if (url === null) await applyMigrations(db.adapterFactory);
  return db;
}
