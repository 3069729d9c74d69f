import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_URL, createTestDatabase, postgresAvailable, type TestDatabase } from '../helpers/database.ts';
import { generateEvents, INGEST, randomBatches, toInput } from '../helpers/events.ts';
import { collect, gql, gqlData, wsClient } from '../helpers/graphql.ts';
import { referenceSessions, rng, type RefEvent } from '../helpers/reference.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { allSessions, comparable, roundValues, sortSessions } from '../helpers/sessions.ts';

const RULES = { gapMs: 300_000, maxDurationMs: 3_600_000, conversionEvents: ['purchase'], engagedMinDurationMs: 10_000, engagedMinEvents: 2 };
const ENV = { SESSION_GAP: '5m', SESSION_MAX_DURATION: '1h', ALLOWED_LATENESS: '30s', DATABASE_POOL_SIZE: '4' };

// Cutting one database's connections needs a Postgres server (PGlite runs in-process).
const serverAnswers = await postgresAvailable();

/** Runs SQL on the shared server's admin database (never stops the server: other test files use it). */
async function admin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: ADMIN_URL });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** The outage: no new connections to the service's database, and every open one cut. */
async function cutConnections(name: string): Promise<void> {
  await admin(`ALTER DATABASE ${name} WITH ALLOW_CONNECTIONS false`);
  await admin(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '${name}' AND pid <> pg_backend_pid()`);
}

async function restoreConnections(name: string): Promise<void> {
  await admin(`ALTER DATABASE ${name} WITH ALLOW_CONNECTIONS true`);
}

async function readyStatus(base: string): Promise<number> {
  return (await fetch(`${base}/readyz`)).status;
}

/** Polls until `check` holds or the timeout passes; returns whether it held. */
async function eventually(check: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return false;
}

describe.skipIf(!serverAnswers)('database outage', () => {
  let db: TestDatabase;
  let server: TestServer;
  let name: string;
  let base: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    name = new URL(db.url as string).pathname.slice(1);
    server = await startTestServer(db.url, ENV);
    base = server.url.replace(/\/graphql$/, '');
  });
  afterAll(async () => {
    if (name !== undefined) await restoreConnections(name).catch(() => undefined);
    await server?.stop();
    await db?.drop();
  });

  it('answers SERVICE_UNAVAILABLE and not ready while the database is cut off, then recovers by itself without losing acknowledged events', async () => {
    const random = rng(2026);
    const events = generateEvents({
      users: 20,
      eventsPerUser: 40,
      startMs: Date.parse('2026-06-01T00:00:00Z'),
      gapMs: RULES.gapMs,
      maxDurationMs: RULES.maxDurationMs,
      random,
    });
    const sorted = [...events].sort((a, b) => a.ts - b.ts || (a.eventId < b.eventId ? -1 : 1));
    const batches = randomBatches(sorted, 25, random);
    const third = Math.floor(batches.length / 3);
    const acknowledged: RefEvent[] = [];
    const refused: RefEvent[][] = [];

    // 1. Before the outage: everything is acknowledged.
    for (const batch of batches.slice(0, third)) {
      await gqlData(server.url, INGEST, { events: batch.map(toInput) });
      acknowledged.push(...batch);
    }
    expect(await readyStatus(base)).toBe(200);

    // 2. Cut the database off with requests in flight.
    const inFlight = batches.slice(third, 2 * third).map(async (batch) => {
      const result = await gql(server.url, INGEST, { events: batch.map(toInput) });
      if (result.data?.['ingestEvents']) acknowledged.push(...batch);
      else {
        expect(result.errors?.[0]?.extensions?.code).toBe('SERVICE_UNAVAILABLE');
        refused.push(batch);
      }
    });
    await cutConnections(name);
    await Promise.all(inFlight);

    // 3. During the outage: ingest fails fast with a coded error, reads too, readiness is false.
    const during = batches.slice(2 * third);
    const started = Date.now();
    for (const batch of during.slice(0, 3)) {
      const result = await gql(server.url, INGEST, { events: batch.map(toInput) });
      expect(result.errors?.[0]?.extensions?.code).toBe('SERVICE_UNAVAILABLE');
      expect(result.errors?.[0]?.message).toMatch(/nothing of this request was saved/);
    }
    expect(Date.now() - started).toBeLessThan(10_000);
    // The Segment endpoint answers 503 with Retry-After, which the Segment SDKs retry.
    const segment = await fetch(`${base}/v1/track`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ userId: 'outage-segment', messageId: 'outage-segment-1', event: 'A' }),
    });
    expect([segment.status, segment.headers.get('retry-after')]).toEqual([503, '5']);
    expect(await segment.json()).toMatchObject({ success: false, code: 'SERVICE_UNAVAILABLE' });
    expect(await eventually(async () => (await readyStatus(base)) === 503, 5_000)).toBe(true);
    const read = await gql(server.url, '{ sessions(first: 1) { nodes { id } } }');
    expect(read.errors?.[0]?.extensions?.code).toBe('SERVICE_UNAVAILABLE');
    // A resumed subscription replays from the database: it fails with a coded, masked error.
    const client = wsClient(server.wsUrl);
    const resumed = collect(client, 'subscription { sessionClosed(after: "0") { id } }');
    await resumed.ended;
    expect(resumed.errors).toEqual([[{ message: 'the database is unavailable; retry later', extensions: { code: 'SERVICE_UNAVAILABLE' } }]]);
    await client.dispose();
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/^sessions_events_rejected_total\{code="SERVICE_UNAVAILABLE"\} [1-9]/m);
    expect(await readyStatus(base)).toBe(503);

    // 4. The database returns: the service recovers on its own.
    await restoreConnections(name);
    expect(await eventually(async () => (await readyStatus(base)) === 200, 30_000)).toBe(true);

    // Every event acknowledged before or during the cut is stored.
    const stored = await allSessions(server.url);
    const storedEvents = stored.reduce((sum, s) => sum + (s['eventCount'] as number), 0);
    expect(storedEvents).toBeGreaterThanOrEqual(acknowledged.length);

    // 5. Ingest works again; the refused batches go in now (a batch whose commit
    // raced the cut may already be there: it then counts as duplicates).
    for (const batch of [...refused, ...during]) {
      const data = await gqlData(server.url, INGEST, { events: batch.map(toInput) });
      expect(data['ingestEvents'].accepted + data['ingestEvents'].duplicates).toBe(batch.length);
    }
    await gqlData(server.url, 'mutation { flushSessions { closed } }');
    const final = await allSessions(server.url);
    expect(new Set(final.map((s) => s['id'])).size).toBe(final.length);
    expect(roundValues(sortSessions(final.map(comparable)))).toEqual(roundValues(referenceSessions(events, RULES)));
  });
});

describe.skipIf(!serverAnswers)('shutdown during a database outage', () => {
  let db: TestDatabase;
  let name: string | undefined;

  beforeAll(async () => {
    db = await createTestDatabase();
    name = new URL(db.url as string).pathname.slice(1);
  });
  afterAll(async () => {
    if (name !== undefined) await restoreConnections(name).catch(() => undefined);
    await db?.drop();
  });

  it('stops promptly while the writer is retrying, and the events acknowledged before are kept', async () => {
    const server = await startTestServer(db.url, ENV);
    const before = [{ eventId: 'sd-1', userId: 'sd', name: 'page_view', timestamp: '2026-06-02T10:00:00Z' }];
    await gqlData(server.url, INGEST, { events: before });
    await cutConnections(name as string);
    const failed = await gql(server.url, INGEST, { events: [{ ...before[0], eventId: 'sd-2' }] });
    expect(failed.errors?.[0]?.extensions?.code).toBe('SERVICE_UNAVAILABLE');
    // Let the writer fall into its backoff between reload attempts.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const started = Date.now();
    await server.stop();
    expect(Date.now() - started).toBeLessThan(3_000);

    await restoreConnections(name as string);
    const again = await startTestServer(db.url, ENV);
    try {
      const data = await gqlData(again.url, '{ sessions(userId: "sd") { nodes { eventCount } } }');
      expect(data['sessions'].nodes).toEqual([{ eventCount: 1 }]);
    } finally {
      await again.stop();
    }
  });
});
