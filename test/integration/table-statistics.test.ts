// The service's tables get statistics as soon as they have rows, and again
// whenever they outgrew them (src/store/table-statistics.ts), so that the
// writer's lookups of a user's sessions go through the user index from the
// first commits of a new database on (PGlite where no server answers).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, openTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { gqlData } from '../helpers/graphql.ts';
import { INGEST } from '../helpers/events.ts';
import { startTestServer } from '../helpers/server.ts';
import { waitUntil } from '../helpers/wait.ts';
import type { Database } from '../../src/store/database.ts';
import { analyzeStaleTables } from '../../src/store/table-statistics.ts';

const TABLES = `('sessions', 'events', 'session_facts')`;

async function analyzedTables(database: Database): Promise<string[]> {
  const rows = await database.prisma.$queryRawUnsafe<Array<{ tablename: string }>>(
    `SELECT DISTINCT tablename FROM pg_stats WHERE schemaname = current_schema() AND tablename IN ${TABLES} ORDER BY 1`,
  );
  return rows.map((row) => row.tablename);
}

describe('table statistics', () => {
  let db: TestDatabase;
  let database: Database;

  beforeAll(async () => {
    db = await createTestDatabase();
    database = await openTestDatabase(db.url);
  });
  afterAll(async () => {
    await database?.close();
    await db?.drop();
  });

  it('analyzes each table once it has rows; then a user’s previous session is read by the user index', async () => {
    const prisma = database.prisma;
    expect(await analyzeStaleTables(prisma)).toEqual(['sessions', 'events', 'session_facts']);
    expect(await analyzedTables(database)).toEqual([]);

    await prisma.$executeRawUnsafe(
      `INSERT INTO events (event_id, user_id, name, ts) SELECT 'e' || i, 'u-' || i, 'view', now() FROM generate_series(1, 500) AS i`,
    );
    expect(await analyzeStaleTables(prisma)).toEqual(['sessions', 'session_facts']);
    expect(await analyzedTables(database)).toEqual(['events']);

    // 2,000 closed sessions of 2,000 users (their facts come with them).
    await prisma.$executeRawUnsafe(
      `INSERT INTO sessions (id, user_id, status, started_at, ended_at, closes_at, duration_seconds, event_count, event_counts, channels,
         top_channel, total_value, converted, engaged, bounced, first_event_name, last_event_name, first_event_id, last_event_id, version)
       SELECT gen_random_uuid(), 'u-' || i, 'CLOSED', t, t, t, 0, 1, '{}', '[]', NULL, 0, false, false, true, 'view', 'view', 'e' || i, 'e' || i, 1
       FROM generate_series(1, 2000) AS i, LATERAL (SELECT now() - i * interval '1 minute' AS t) AS at`,
    );
    expect(await analyzeStaleTables(prisma)).toEqual([]);
    expect(await analyzedTables(database)).toEqual(['events', 'session_facts', 'sessions']);

    // The writer's lookup (session-writes.ts prevStartOf): with statistics,
    // `definition = 'default'` selects every row and the user index wins.
    const plan = await prisma.$queryRawUnsafe<Array<{ 'QUERY PLAN': unknown }>>(
      `EXPLAIN (FORMAT JSON) SELECT max(q.started_at) FROM sessions AS q
       WHERE q.user_id = 'u-7' AND q.definition = 'default' AND q.started_at < now() AND q.id <> gen_random_uuid()`,
    );
    expect(JSON.stringify(plan)).toContain('sessions_user_started_idx');
    expect(JSON.stringify(plan)).not.toContain('sessions_started_idx');
  });

  it('analyzes again a table that outgrew the statistics of its first row', async () => {
    const fresh = await createTestDatabase();
    const own = await openTestDatabase(fresh.url);
    const prisma = own.prisma;
    const insertSessions = (users: string, from: number, to: number): Promise<number> =>
      prisma.$executeRawUnsafe(
        `INSERT INTO sessions (id, user_id, status, started_at, ended_at, closes_at, duration_seconds, event_count, event_counts, channels,
           top_channel, total_value, converted, engaged, bounced, first_event_name, last_event_name, first_event_id, last_event_id, version)
         SELECT gen_random_uuid(), ${users}, 'CLOSED', t, t, t, 0, 1, '{}', '[]', NULL, 0, false, false, true, 'view', 'view', 'e' || i, 'e' || i, 1
         FROM generate_series(${from}, ${to}) AS i, LATERAL (SELECT now() - i * interval '1 minute' AS t) AS at`,
      );
    const distinct = async (column: string): Promise<number | null> => {
      const rows = await prisma.$queryRawUnsafe<Array<{ n: number }>>(
        `SELECT n_distinct::float8 AS n FROM pg_stats WHERE schemaname = current_schema() AND tablename = 'sessions' AND attname = $1`,
        column,
      );
      return rows[0]?.n ?? null;
    };
    try {
      // A first commit of one session: statistics of one row call every column unique (n_distinct -1),
      // `definition` as selective as `user_id` (a new user's lookup then scanned every session of the definition).
      await insertSessions(`'only-user'`, 1, 1);
      await analyzeStaleTables(prisma, ['sessions']);
      expect(await distinct('definition')).toBe(-1);
      // Then 3,000 sessions of 3,000 users; the counters of changed rows reach the statistics views.
      await insertSessions(`'u-' || i`, 2, 3_001);
      await waitUntil(async () => {
        await prisma.$executeRawUnsafe(`SELECT pg_stat_force_next_flush()`);
        const rows = await prisma.$queryRawUnsafe<Array<{ n: number }>>(`SELECT n_mod_since_analyze::float8 AS n FROM pg_stat_user_tables WHERE relname = 'sessions'`);
        return (rows[0]?.n ?? 0) >= 3_000;
      }, 'the changed-row counter of sessions');
      await analyzeStaleTables(prisma, ['sessions']);
      // One definition for every row, user_id nearly unique; a new user's lookup takes the user index.
      expect(await distinct('definition')).toBe(1);
      expect(await distinct('user_id')).toBeLessThan(-0.9);
      const plan = await prisma.$queryRawUnsafe<Array<{ 'QUERY PLAN': unknown }>>(
        `EXPLAIN (FORMAT JSON) SELECT max(q.started_at) FROM sessions AS q
         WHERE q.user_id = 'new-user' AND q.definition = 'default' AND q.started_at < now() AND q.id <> gen_random_uuid()`,
      );
      expect(JSON.stringify(plan)).toContain('sessions_user_started_idx');
      // Nothing changed since: no second ANALYZE.
      const before = await prisma.$queryRawUnsafe<Array<{ n: number }>>(`SELECT analyze_count::float8 AS n FROM pg_stat_user_tables WHERE relname = 'sessions'`);
      await analyzeStaleTables(prisma, ['sessions']);
      const after = await prisma.$queryRawUnsafe<Array<{ n: number }>>(`SELECT analyze_count::float8 AS n FROM pg_stat_user_tables WHERE relname = 'sessions'`);
      expect(after[0]?.n).toBe(before[0]?.n);
    } finally {
      await own.close();
      await fresh.drop();
    }
  });

  it('a service analyzes its new database after its first commit', { timeout: 60_000 }, async () => {
    const fresh = await createTestDatabase();
    const server = await startTestServer(fresh.url);
    const observer = await openTestDatabase(fresh.url);
    try {
      expect(await analyzedTables(observer)).toEqual([]);
      await gqlData(server.url, INGEST, { events: [{ name: 'view', userId: 'first', timestamp: new Date(Date.now() - 60_000).toISOString() }] });
      let seen: string[] = [];
      await waitUntil(
        async () => {
          seen = await analyzedTables(observer);
          return seen.includes('sessions') && seen.includes('events');
        },
        () => `statistics of sessions and events (have: ${seen.join(', ') || 'none'})`,
      );
    } finally {
      await observer.close();
      await server.stop();
      await fresh.drop();
    }
  });
});
