/**
 * A group that holds its transaction past Prisma's maxWait (10 s) does not
 * make the next group fail: with one writer connection
 * (DATABASE_WRITER_POOL_SIZE=1) the writer does not overlap groups, so the
 * next group waits for the current one instead of waiting for a second
 * connection and failing with SERVICE_UNAVAILABLE; with a larger pool it
 * overlaps them, and the same mutations succeed too.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, postgresAvailable, type TestDatabase } from '../helpers/database.ts';
import { INGEST } from '../helpers/events.ts';
import { gql, gqlData } from '../helpers/graphql.ts';
import { waitForMetric } from '../helpers/metrics.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { waitUntil } from '../helpers/wait.ts';

/** Prisma's default wait for a free connection of the pool (maxWait), which the held group outlasts. */
const PRISMA_MAX_WAIT_MS = 10_000;

// Holding rows from other connections needs a Postgres server: PGlite runs inside the service's process.
const serverAnswers = await postgresAvailable();

function event(userId: string, id: string, ts: number) {
  return { eventId: id, userId, name: 'page_view', timestamp: new Date(ts).toISOString() };
}

describe.skipIf(!serverAnswers).each([['10'], ['1']])('a slow group with DATABASE_WRITER_POOL_SIZE=%s', (poolSize) => {
  let db: TestDatabase;
  let server: TestServer;

  beforeAll(async () => {
    db = await createTestDatabase();
    // The writer's own pool decides whether it overlaps groups (DATABASE_WRITER_POOL_SIZE).
    server = await startTestServer(db.url, { DATABASE_POOL_SIZE: poolSize, DATABASE_WRITER_POOL_SIZE: poolSize, UPDATE_INTERVAL: '0s' });
  });
  afterAll(async () => {
    await server?.stop();
    await db?.drop();
  });

  it('the next group waits for it instead of failing', { timeout: 60_000 }, async () => {
    const url = db.url as string; // not null: the suite runs only with a server
    const t0 = Date.now() - 60_000;
    await gqlData(server.url, INGEST, { events: [event('warm', 'w1', t0)] }); // creates service_state
    // pg_stat_activity is a snapshot per transaction: the watcher queries outside any.
    const watcher = new pg.Client({ connectionString: url });
    await watcher.connect();
    /** Waits until a statement of the writer on `table` waits for a lock. */
    const blockedOn = (table: string): Promise<void> =>
      waitUntil(async () => {
        const { rows } = await watcher.query(
          `SELECT count(*)::int AS n FROM pg_stat_activity
           WHERE datname = current_database() AND pid <> pg_backend_pid() AND wait_event_type = 'Lock' AND query LIKE $1`,
          [`%${table}%`],
        );
        return rows[0].n > 0;
      }, `a writer statement on ${table} to wait for a lock`);
    // L1 holds an uncommitted copy of a1: G1's event insert waits on it, so G2 is queued by then.
    const l1 = new pg.Client({ connectionString: url });
    await l1.connect();
    await l1.query('BEGIN');
    await l1.query(`INSERT INTO events (event_id, user_id, name, ts) VALUES ('a1', 'a', 'page_view', now())`);
    // L2 holds the service_state row: once its insert is done, G1 waits here (a long group would do the same).
    const l2 = new pg.Client({ connectionString: url });
    await l2.connect();
    await l2.query('BEGIN');
    await l2.query('SELECT * FROM service_state WHERE id = 1 FOR UPDATE');
    const first = gql(server.url, INGEST, { events: [event('a', 'a1', t0 + 1)] }); // G1
    await blockedOn('INSERT INTO events');
    const second = gql(server.url, INGEST, { events: [event('b', 'b1', t0 + 2)] }); // G2, queued behind G1
    await waitForMetric(server.service, 'sessions_writer_queue_depth', (events) => events === 1);
    await l1.query('ROLLBACK'); // G1's insert goes on; G2 starts overlapped
    await l1.end();
    await blockedOn('service_state');
    // This wait is the behaviour under test: G1 holds its connection past Prisma's maxWait, which
    // a second group waiting for a connection of a one-connection pool would not survive.
    await new Promise((resolve) => setTimeout(resolve, PRISMA_MAX_WAIT_MS + 1_000));
    await l2.query('COMMIT');
    await l2.end();
    await watcher.end();
    const [r1, r2] = await Promise.all([first, second]);
    expect(r1.errors).toBeUndefined();
    // With one connection the writer does not overlap groups: G2 waits for G1 instead of waiting
    // for a second connection past Prisma's maxWait (10 s) and failing.
    expect(r2.errors?.map((e) => e.extensions?.code)).toBeUndefined();
    expect((r2.data as any)?.ingestEvents?.accepted).toBe(1);
  });
});
