// Quiet users close GAP + ALLOWED_LATENESS after their last event was
// received (DESIGN.md "Time, lateness and closing"), also across a restart
// and when another instance joins and partitions change owner: the state
// reloaded from the store must not start their timers anew. The reference
// is the client's own clock: an event was received between the request and
// its answer, so its user's session closes in [request + span, answer +
// span] (plus the timer's delay).
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { balanced, waitUntil } from '../helpers/cluster.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { INGEST } from '../helpers/events.ts';
import { gqlData } from '../helpers/graphql.ts';
import { startProcess, type ServiceProcess } from '../helpers/process.ts';

const GAP_MS = 10_000;
const ENV = { SESSION_GAP: `${GAP_MS}ms`, ALLOWED_LATENESS: '0s', CLUSTER_FAILOVER: '3s' };
/** How late a quiet timer may fire on a loaded machine. */
const TIMER_SLACK_MS = 2_000;

interface Sent {
  readonly userId: string;
  readonly requestedAt: number;
  readonly answeredAt: number;
}

/** One event per user, timestamped a second ago, in one mutation. */
async function sendOne(url: string, users: readonly string[]): Promise<Sent[]> {
  const requestedAt = Date.now();
  const events = users.map((userId) => ({ eventId: `${userId}-e`, userId, name: 'page_view', timestamp: new Date(requestedAt - 1_000).toISOString() }));
  const answer = await gqlData<{ ingestEvents: { accepted: number } }>(url, INGEST, { events });
  expect(answer.ingestEvents.accepted).toBe(users.length);
  const answeredAt = Date.now();
  return users.map((userId) => ({ userId, requestedAt, answeredAt }));
}

/** Waits until every user's session is CLOSED, then checks each closedAt against the client's clock. */
async function expectClosedOnTime(url: string, sent: readonly Sent[]): Promise<void> {
  const closed = new Map<string, Record<string, unknown>>();
  await waitUntil(
    async () => {
      for (const { userId } of sent) {
        if (closed.has(userId)) continue;
        const page = await gqlData<{ sessions: { nodes: Array<Record<string, unknown>> } }>(
          url,
          'query ($u: ID) { sessions(userId: $u) { nodes { status closeReason closedAt } } }',
          { u: userId },
        );
        const session = page.sessions.nodes[0];
        if (session?.['status'] === 'CLOSED') closed.set(userId, session);
      }
      return closed.size === sent.length;
    },
    () => `${sent.length - closed.size} of ${sent.length} sessions to close`,
    GAP_MS + 30_000,
    200,
  );
  for (const { userId, requestedAt, answeredAt } of sent) {
    const session = closed.get(userId) as Record<string, unknown>;
    expect(session['closeReason'], userId).toBe('INACTIVITY');
    const closedAt = Date.parse(session['closedAt'] as string);
    expect(closedAt, `${userId} closed before its quiet span ended`).toBeGreaterThanOrEqual(requestedAt + GAP_MS - 50);
    expect(closedAt - (answeredAt + GAP_MS), `${userId} closed late by`).toBeLessThanOrEqual(TIMER_SLACK_MS);
  }
}

describe('quiet users close on time', () => {
  let db: TestDatabase;
  let running: ServiceProcess[] = [];
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterEach(async () => {
    await Promise.all(running.map((s) => s.stop('SIGKILL')));
    running = [];
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('after a crash and a restart within the quiet span', async () => {
    const env = { ...ENV, ...(db.url === null ? { DATA_DIR: `/tmp/sessions-quiet-${process.pid}` } : { DATABASE_URL: db.url }) };
    const first = await startProcess(env);
    running = [first];
    const sent = await sendOne(first.url, ['quiet-restart-a', 'quiet-restart-b']);
    expect(await first.stop('SIGKILL')).toBeNull();
    running = [];
    // Down for a while: started anew, the timers would end about this much late.
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    const second = await startProcess(env);
    running = [second];
    await expectClosedOnTime(second.url, sent);
  }, 60_000);

  it('when a second instance joins and partitions change owner', async () => {
    if (db.url === null) throw new Error('the cluster case needs the Postgres server on 127.0.0.1:5432');
    const env = { ...ENV, DATABASE_URL: db.url };
    const first = await startProcess(env);
    running = [first];
    // Users spread over the partitions: some stay with the first instance, some move.
    const sent = await sendOne(first.url, Array.from({ length: 24 }, (_, i) => `quiet-join-${i}`));
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const second = await startProcess(env);
    running.push(second);
    await waitUntil(() => balanced(first.url, 2), 'two instances sharing the partitions');
    await expectClosedOnTime(first.url, sent);
  }, 60_000);
});
