// Migrations through the Wasm schema engine, on the local Postgres server
// (TEST_DATABASE_URL, default postgresql://postgres@127.0.0.1:5432/postgres)
// and on in-memory PGlite. Without a server only the PGlite half runs.

import { createHash, randomBytes } from 'node:crypto';
import { cp, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { PrismaPg } from '@prisma/adapter-pg';
import type { SqlMigrationAwareDriverAdapterFactory } from '@prisma/driver-adapter-utils';
import pg from 'pg';
import { PrismaPGlite } from 'pglite-prisma-adapter';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_MIGRATIONS_DIR, applyMigrations, diffMigration } from '../../src/store/migrate.ts';
import { waitUntil } from '../helpers/wait.ts';

const ADMIN_URL = process.env['TEST_DATABASE_URL'] ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
const TABLES = ['_prisma_migrations', 'events', 'service_state', 'sessions'];
/** The migration that added and filled sessions.prev_started_at. */
const PREV_START_MIGRATION = '20261207150000_session_prev_start';

async function serverAnswers(): Promise<boolean> {
  const client = new pg.Client({ connectionString: ADMIN_URL, connectionTimeoutMillis: 2_000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

const hasServer = await serverAnswers();
if (!hasServer) {
  process.stderr.write(`notice: no Postgres server answers at ${ADMIN_URL}; migrate tests run on PGlite only\n`);
}

/** Folder names and sha256 checksums of prisma/migrations. */
async function expectedMigrations(dir = DEFAULT_MIGRATIONS_DIR): Promise<Map<string, string>> {
  const entries = await readdir(dir, { withFileTypes: true });
  const out = new Map<string, string>();
  for (const e of entries.filter((d) => d.isDirectory()).sort((a, b) => a.name.localeCompare(b.name))) {
    const sql = await readFile(path.join(dir, e.name, 'migration.sql'));
    out.set(e.name, createHash('sha256').update(sql).digest('hex'));
  }
  return out;
}

/** A copy of prisma/migrations plus one migration that fails half-way. */
async function migrationsWithBrokenOne(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'migrate-test-'));
  await cp(DEFAULT_MIGRATIONS_DIR, dir, { recursive: true });
  await mkdir(path.join(dir, '99990101000000_broken'));
  await writeFile(
    path.join(dir, '99990101000000_broken', 'migration.sql'),
    // A `;` inside a literal, then a failing statement: the whole file must roll back.
    'CREATE TABLE "half_applied" ("note" TEXT DEFAULT \'a;b\');\nSELECT * FROM "no_such_table";\n',
  );
  return dir;
}

type Query = (sql: string, params?: unknown[]) => Promise<Record<string, unknown>[]>;

/**
 * The checks shared by both backends; `open` gives a new empty database on
 * each call, so that every test stands alone (in any order).
 */
function migrationSuite(open: () => Promise<{ factory: () => SqlMigrationAwareDriverAdapterFactory; query: Query }>) {
  it('applies every migration of prisma/migrations to an empty database', async () => {
    const { factory, query } = await open();
    const expected = await expectedMigrations();
    expect(expected.size).toBeGreaterThan(0);

    const result = await applyMigrations(factory());
    expect(result.applied).toEqual([...expected.keys()]);

    const tables = await query(
      "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename",
    );
    expect(tables.map((r) => r['tablename'])).toEqual(expect.arrayContaining(TABLES));

    const rows = await query(
      'SELECT migration_name, checksum, finished_at, rolled_back_at, applied_steps_count FROM _prisma_migrations ORDER BY migration_name',
    );
    expect(rows.map((r) => r['migration_name'])).toEqual([...expected.keys()]);
    for (const row of rows) {
      // Same bookkeeping as `prisma migrate deploy`: sha256 of the file, finished, one step.
      expect(row['checksum']).toBe(expected.get(String(row['migration_name'])));
      expect(row['finished_at']).not.toBeNull();
      expect(row['rolled_back_at']).toBeNull();
      expect(Number(row['applied_steps_count'])).toBe(1);
    }
  });

  it('links the sessions stored before prev_started_at existed to their predecessors, and copies the closed ones to session_facts', async () => {
    const { factory, query } = await open();
    const dir = await mkdtemp(path.join(tmpdir(), 'migrate-prev-'));
    try {
      await cp(DEFAULT_MIGRATIONS_DIR, dir, { recursive: true });
      // The database as it was before: every migration from that one on is left out.
      for (const name of await readdir(dir)) if (name >= PREV_START_MIGRATION) await rm(path.join(dir, name), { recursive: true });
      await applyMigrations(factory(), { migrationsDir: dir });
      // Two users, two builds; inserted out of start order.
      const rows: Array<[string, string, string, string]> = [
        ['00000000-0000-4000-8000-000000000003', 'u1', 'default', '2026-07-01T12:00:00Z'],
        ['00000000-0000-4000-8000-000000000001', 'u1', 'default', '2026-07-01T10:00:00Z'],
        ['00000000-0000-4000-8000-000000000002', 'u1', 'default', '2026-07-01T11:00:00Z'],
        ['00000000-0000-4000-8000-000000000004', 'u2', 'default', '2026-07-01T10:30:00Z'],
        ['00000000-0000-4000-8000-000000000005', 'u1', 'short', '2026-07-01T11:30:00Z'],
        ['00000000-0000-4000-8000-000000000006', 'u1', 'short', '2026-07-01T10:15:00Z'],
      ];
      for (const [id, user, definition, start] of rows) {
        await query(
          `INSERT INTO sessions (id, user_id, status, started_at, ended_at, closes_at, duration_seconds, event_count, event_counts,
             channels, total_value, converted, engaged, bounced, first_event_name, last_event_name, first_event_id, last_event_id,
             version, definition)
           VALUES ($1::uuid, $2, 'CLOSED', $3::timestamptz, $3::timestamptz, $3::timestamptz, 0, 1, '{}', '[]', 0, false, false, true,
             'a', 'a', 'e', 'e', 1, $4)`,
          [id, user, start, definition],
        );
      }
      await applyMigrations(factory());
      const linked = await query(`SELECT id::text AS id, to_char(prev_started_at AT TIME ZONE 'UTC', 'HH24:MI') AS prev FROM sessions ORDER BY id`);
      expect(linked).toEqual([
        { id: '00000000-0000-4000-8000-000000000001', prev: null },
        { id: '00000000-0000-4000-8000-000000000002', prev: '10:00' },
        { id: '00000000-0000-4000-8000-000000000003', prev: '11:00' },
        { id: '00000000-0000-4000-8000-000000000004', prev: null },
        { id: '00000000-0000-4000-8000-000000000005', prev: '10:15' },
        { id: '00000000-0000-4000-8000-000000000006', prev: null },
      ]);
      // The analytics' copy of the closed sessions (all of these) carries the same links.
      const facts = await query(`SELECT id::text AS id, to_char(prev_started_at AT TIME ZONE 'UTC', 'HH24:MI') AS prev FROM session_facts ORDER BY id`);
      expect(facts).toEqual(linked);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('applies nothing the second time, with or without the engine', async () => {
    const { factory, query } = await open();
    const expected = await expectedMigrations();
    expect((await applyMigrations(factory())).applied).toEqual([...expected.keys()]);

    const quick = await applyMigrations(factory());
    expect(quick).toEqual({ applied: [], skippedEngine: true });

    const engine = await applyMigrations(factory(), { force: true });
    expect(engine).toEqual({ applied: [], skippedEngine: false });

    const rows = await query('SELECT count(*)::int AS n FROM _prisma_migrations');
    expect(rows[0]?.['n']).toBe(expected.size);
  });
}

describe.skipIf(!hasServer)('migrations on Postgres', () => {
  const dbName = `sessions_migrate_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  let url: string;
  let client: pg.Client;
  const scratch: string[] = [];

  async function createDb(name: string): Promise<string> {
    await admin.query(`CREATE DATABASE "${name}"`);
    const u = new URL(ADMIN_URL);
    u.pathname = `/${name}`;
    return u.toString();
  }

  beforeAll(async () => {
    await admin.connect();
    url = await createDb(dbName);
    client = new pg.Client({ connectionString: url });
    await client.connect();
  });

  afterAll(async () => {
    await client?.end().catch(() => undefined);
    for (const name of [dbName, ...scratch]) {
      await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`).catch(() => undefined);
    }
    await admin.end().catch(() => undefined);
  });

  const clients: pg.Client[] = [];
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
  });
  migrationSuite(async () => {
    const name = `sessions_migrate_test_${randomBytes(6).toString('hex')}`;
    scratch.push(name);
    const freshUrl = await createDb(name);
    const c = new pg.Client({ connectionString: freshUrl });
    clients.push(c);
    await c.connect();
    return {
      factory: () => new PrismaPg({ connectionString: freshUrl }),
      query: async (sql, params) => (await c.query(sql, params)).rows as Record<string, unknown>[],
    };
  });

  it('leaves no connection and no advisory lock behind, even on a shared pool', async () => {
    const pool = new pg.Pool({ connectionString: url, max: 2 });
    try {
      const result = await applyMigrations(new PrismaPg(pool), { force: true });
      expect(result.applied).toEqual([...(await expectedMigrations()).keys()]); // this test's own database, empty until now
      await pool.query('SELECT 1'); // the application's pool keeps working
    } finally {
      await pool.end();
    }
    const count = async (sql: string): Promise<number> => ((await admin.query(sql, [dbName])).rows[0] as { n: number }).n;
    const lockSql =
      "SELECT count(*)::int AS n FROM pg_locks l JOIN pg_database d ON d.oid = l.database WHERE l.locktype = 'advisory' AND d.datname = $1";
    const connSql = 'SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()';
    // The server ends the pool's backends after pool.end() resolves: wait for them to go (a leak never does).
    let conns = -1;
    await waitUntil(async () => (conns = await count(connSql)) <= 1, () => `the pool's connections to close (${conns} left)`, 10_000);
    expect(await count(lockSql)).toBe(0);
    expect(conns).toBe(1); // our own test client
  });

  it('rolls a failing migration back whole and records it as failed', async () => {
    const name = `sessions_migrate_test_${randomBytes(6).toString('hex')}`;
    scratch.push(name);
    const brokenUrl = await createDb(name);
    const dir = await migrationsWithBrokenOne();
    const c = new pg.Client({ connectionString: brokenUrl });
    await c.connect();
    try {
      await expect(applyMigrations(new PrismaPg({ connectionString: brokenUrl }), { migrationsDir: dir })).rejects.toThrow(
        /no_such_table|does not exist/i,
      );
      const half = await c.query("SELECT to_regclass('public.half_applied') AS t");
      expect(half.rows[0].t).toBeNull();
      const failed = await c.query(
        "SELECT finished_at FROM _prisma_migrations WHERE migration_name = '99990101000000_broken'",
      );
      expect(failed.rows).toHaveLength(1);
      expect(failed.rows[0].finished_at).toBeNull();
      // Like migrate deploy: nothing more is applied until the failure is resolved.
      await expect(applyMigrations(new PrismaPg({ connectionString: brokenUrl }), { migrationsDir: dir })).rejects.toThrow(
        /P3009/,
      );
    } finally {
      await c.end();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('finds no difference between prisma/migrations and prisma/schema.prisma (scratch database)', async () => {
    const name = `sessions_diff_${randomBytes(6).toString('hex')}`;
    scratch.push(name);
    const scratchUrl = await createDb(name);
    const dir = await mkdtemp(path.join(tmpdir(), 'migrate-diff-'));
    try {
      await cp(DEFAULT_MIGRATIONS_DIR, dir, { recursive: true });
      const out = await diffMigration(new PrismaPg({ connectionString: scratchUrl }), 'nothing', { migrationsDir: dir });
      expect(out).toEqual({ created: false, reason: 'empty-diff' });
      expect((await readdir(dir)).sort()).toEqual((await readdir(DEFAULT_MIGRATIONS_DIR)).sort());
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('migrations on in-memory PGlite', () => {
  // Booting PGlite costs seconds (initdb); cloning a pristine one well under one.
  const opened: PGlite[] = [];
  let template: Promise<PGlite> | undefined;
  async function boot(): Promise<PGlite> {
    template ??= (async () => {
      const db = new PGlite();
      opened.push(db);
      await db.waitReady;
      return db;
    })();
    const db = (await (await template).clone()) as PGlite;
    opened.push(db);
    return db;
  }
  afterAll(async () => {
    await Promise.all(opened.map((db) => db.close().catch(() => undefined)));
  });

  migrationSuite(async () => {
    const db = await boot();
    return {
      factory: () => new PrismaPGlite(db),
      query: async (sql, params) => (await db.query<Record<string, unknown>>(sql, params)).rows,
    };
  });

  it('rolls a failing migration back whole and records it as failed', async () => {
    const db = await boot();
    const dir = await migrationsWithBrokenOne();
    try {
      await expect(applyMigrations(new PrismaPGlite(db), { migrationsDir: dir })).rejects.toThrow(
        /no_such_table|does not exist/i,
      );
      const half = await db.query<{ t: string | null }>("SELECT to_regclass('public.half_applied')::text AS t");
      expect(half.rows[0]?.t).toBeNull();
      const failed = await db.query<{ finished_at: Date | null }>(
        "SELECT finished_at FROM _prisma_migrations WHERE migration_name = '99990101000000_broken'",
      );
      expect(failed.rows).toHaveLength(1);
      expect(failed.rows[0]?.finished_at).toBeNull();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('finds no difference between prisma/migrations and prisma/schema.prisma', async () => {
    const db = await boot();
    const dir = await mkdtemp(path.join(tmpdir(), 'migrate-diff-'));
    try {
      await cp(DEFAULT_MIGRATIONS_DIR, dir, { recursive: true });
      const out = await diffMigration(new PrismaPGlite(db), 'nothing', { migrationsDir: dir });
      expect(out).toEqual({ created: false, reason: 'empty-diff' });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('writes a new migration when the schema changes, and refuses a non-empty scratch database', async () => {
    const db = await boot();
    const dir = await mkdtemp(path.join(tmpdir(), 'migrate-diff-'));
    try {
      await cp(DEFAULT_MIGRATIONS_DIR, dir, { recursive: true });
      const schema = await readFile(path.resolve(DEFAULT_MIGRATIONS_DIR, '..', 'schema.prisma'), 'utf8');
      const changed = path.join(dir, 'schema.prisma');
      await writeFile(
        changed,
        schema.replace(/(model ServiceState \{\n\s+id\s+Int\s+@id\n)/, '$1  note String?\n'),
      );
      expect(await readFile(changed, 'utf8')).not.toBe(schema);
      const out = await diffMigration(new PrismaPGlite(db), 'add note', {
        migrationsDir: dir,
        schemaPath: changed,
        now: new Date('2099-01-02T03:04:05Z'),
      });
      expect(out.created).toBe(true);
      if (!out.created) return;
      expect(out.name).toBe('20990102030405_add_note');
      expect(out.sql).toMatch(/ALTER TABLE "service_state" ADD COLUMN\s+"note" TEXT/);
      expect(await readFile(path.join(dir, out.name, 'migration.sql'), 'utf8')).toBe(out.sql);

      // The engine replayed the migrations into the scratch database: it is no longer empty.
      await expect(diffMigration(new PrismaPGlite(db), 'again', { migrationsDir: dir, schemaPath: changed })).rejects.toThrow(
        /empty scratch database/,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
