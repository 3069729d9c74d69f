// New tables get statistics as soon as they have rows (src/store/first-statistics.ts),
// so that the writer's lookups of a user's sessions go through the user index
// from the first commits of a new database (PGlite where no server answers).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, openTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { gqlData } from '../helpers/graphql.ts';
import { INGEST } from '../helpers/events.ts';
import { startTestServer } from '../helpers/server.ts';
import { waitUntil } from '../helpers/wait.ts';
import type { Database } from '../../src/store/database.ts';
import { analyzeNewTables } from '../../src/store/first-statistics.ts';

const TABLES = `('sessions', 'events', 'session_facts')`;

async function analyzedTables(database: Database): Promise<string[]> {
  const rows = await database.prisma.$queryRawUnsafe<Array<{ tablename: string }>>(
    `SELECT DISTINCT tablename FROM pg_stats WHERE schemaname = current_schema() AND tablename IN ${TABLES} ORDER BY 1`,
  );
  return rows.map((row) => row.tablename);
}

describe('first statistics', () => {
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
    expect(await analyzeNewTables(prisma)).toEqual(['sessions', 'events', 'session_facts']);
    expect(await analyzedTables(database)).toEqual([]);

    await prisma.$executeRawUnsafe(
      `INSERT INTO events (event_id, user_id, name, ts) SELECT 'e' || i, 'u-' || i, 'view', now() FROM generate_series(1, 500) AS i`,
    );
    expect(await analyzeNewTables(prisma)).toEqual(['sessions', 'session_facts']);
    expect(await analyzedTables(database)).toEqual(['events']);

    // 2,000 closed sessions of 2,000 users (their facts come with them).
    await prisma.$executeRawUnsafe(
      `INSERT INTO sessions (id, user_id, status, started_at, ended_at, closes_at, duration_seconds, event_count, event_counts, channels,
         top_channel, total_value, converted, engaged, bounced, first_event_name, last_event_name, first_event_id, last_event_id, version)
       SELECT gen_random_uuid(), 'u-' || i, 'CLOSED', t, t, t, 0, 1, '{}', '[]', NULL, 0, false, false, true, 'view', 'view', 'e' || i, 'e' || i, 1
       FROM generate_series(1, 2000) AS i, LATERAL (SELECT now() - i * interval '1 minute' AS t) AS at`,
    );
    expect(await analyzeNewTables(prisma)).toEqual([]);
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
