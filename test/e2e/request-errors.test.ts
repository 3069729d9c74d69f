// Requests the service cannot serve get a coded error naming the client's
// mistake, never INTERNAL_SERVER_ERROR, and change nothing else: values
// Postgres refuses in an argument (a NUL, a time beyond its range), a
// persisted query whose hash does not match, a WebSocket variable of the
// wrong type. (Found by an independent check of bad input.)
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { INGEST } from '../helpers/events.ts';
import { collect, gql, gqlData, wsClient } from '../helpers/graphql.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

describe('request errors', () => {
  let db: TestDatabase;
  let server: TestServer;

  beforeAll(async () => {
    db = await createTestDatabase();
    server = await startTestServer(db.url, { SESSION_GAP: '30m' });
    await gqlData(server.url, INGEST, { events: [{ eventId: 'r1', userId: 'ok-user', name: 'view', timestamp: new Date(Date.now() - 60_000).toISOString() }] });
  });
  afterAll(async () => {
    await server?.stop();
    await db?.drop();
  });

  const codeOf = (answer: Awaited<ReturnType<typeof gql>>): string | undefined => answer.errors?.[0]?.extensions?.code;

  it('answers BAD_USER_INPUT for a NUL in a filter argument, and keeps serving', async () => {
    const sessions = await gql(server.url, 'query ($u: ID) { sessions(userId: $u) { totalCount } }', { u: 'a\u0000b' });
    expect(codeOf(sessions), JSON.stringify(sessions)).toBe('BAD_USER_INPUT');
    const stats = await gql(server.url, 'query ($u: ID) { engagementStats(userId: $u) { sessions } }', { u: 'a\u0000' });
    expect(codeOf(stats), JSON.stringify(stats)).toBe('BAD_USER_INPUT');
    const fine = await gqlData(server.url, '{ sessions(userId: "ok-user") { totalCount } }');
    expect(fine['sessions'].totalCount).toBe(1);
  });

  it('answers a coded error, not an internal one, for times beyond what the database holds', async () => {
    for (const [query, variables] of [
      ['query ($f: DateTime) { engagementStats(from: $f) { sessions } }', { f: '0000-01-01T00:00:00Z' }],
      ['query ($t: DateTime) { topChannels(to: $t) { channelId } }', { t: '9999-12-31T23:59:59-14:00' }],
      ['query ($f: DateTime) { sessions(from: $f) { totalCount } }', { f: '0000-06-01T00:00:00Z' }],
      [
        'query ($f: DateTime!) { engagementSeries(from: $f, to: "0028-01-01T00:00:00Z", interval: DAY, timeZone: "Asia/Kolkata") { start } }',
        { f: '0001-01-01T00:00:00Z' },
      ],
    ] as const) {
      const answer = await gql(server.url, query, variables);
      expect(answer.errors?.length, JSON.stringify(answer)).toBeGreaterThan(0);
      expect(['BAD_USER_INPUT', 'INVALID_RANGE', 'INVALID_TIMESTAMP']).toContain(codeOf(answer));
    }
  });

  it('refuses an event of year 0000 (INVALID_TIMESTAMP) and keeps the rest of its batch', async () => {
    const good = new Date(Date.now() - 30_000).toISOString();
    const answer = await gqlData(server.url, INGEST, {
      events: [
        { eventId: 'y0', userId: 'year-user', name: 'view', timestamp: '0000-01-01T00:00:00Z' },
        { eventId: 'y1', userId: 'year-user', name: 'view', timestamp: good },
        { eventId: 'y2', userId: 'year-user', name: 'view', timestamp: '0001-01-01T00:00:00+14:00' },
      ],
    });
    expect(answer['ingestEvents']).toMatchObject({ accepted: 1, rejected: [{ index: 0, code: 'INVALID_TIMESTAMP' }, { index: 2, code: 'INVALID_TIMESTAMP' }] });
    // The stored session pages with its own cursor.
    const page = await gqlData(server.url, '{ sessions(userId: "year-user", first: 1) { edges { node { startedAt } } pageInfo { endCursor } } }');
    expect(page['sessions'].edges.map((e: { node: { startedAt: string } }) => e.node.startedAt)).toEqual([good]);
    const next = await gqlData(server.url, 'query ($a: String) { sessions(userId: "year-user", first: 1, after: $a) { totalCount edges { cursor } } }', {
      a: page['sessions'].pageInfo.endCursor,
    });
    expect(next['sessions'].edges).toEqual([]);
  });

  it('bounds the engagementSeries buckets of a whole request, aliases included (INVALID_RANGE)', async () => {
    const series = (alias: string, from: string) =>
      `${alias}: engagementSeries(from: "${from}", to: "2026-11-01T00:00:00Z", interval: DAY, timeZone: "Asia/Kolkata") { start sessions }`;
    // 6,000 days: within the bound alone.
    const one = await gql(server.url, `{ ${series('a', '2010-06-03T00:00:00Z')} }`);
    expect(one.errors, JSON.stringify(one.errors)).toBeUndefined();
    expect((one.data as { a: unknown[] }).a.length).toBeGreaterThan(5_990);
    // Twice that in one request: the second is refused, the first is answered.
    const two = await gql(server.url, `{ ${series('a', '2010-06-03T00:00:00Z')} ${series('b', '2010-06-03T00:00:00Z')} }`);
    expect(two.errors?.map((e) => [e.path?.[0], e.extensions?.code])).toEqual([['b', 'INVALID_RANGE']]);
  });

  it('answers BAD_REQUEST to a persisted query whose hash does not match its text', async () => {
    const response = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ __typename }', extensions: { persistedQuery: { version: 1, sha256Hash: 'abc' } } }),
    });
    const body = (await response.json()) as { errors?: Array<{ message: string; extensions?: { code?: string } }> };
    expect(response.status).toBe(400);
    expect(body.errors?.[0]).toMatchObject({ message: 'provided sha does not match query', extensions: { code: 'BAD_REQUEST' } });
  });

  it('answers BAD_USER_INPUT over WebSocket to a variable of the wrong type, as over HTTP', async () => {
    const query = 'subscription ($u: ID) { sessionClosed(userId: $u) { id } }';
    const overHttp = await gql(server.url, query.replace('subscription', 'query ($u: ID) { sessions(userId: $u) { totalCount } } #'), { u: { a: 1 } });
    expect(codeOf(overHttp)).toBe('BAD_USER_INPUT');
    const client = wsClient(server.wsUrl);
    try {
      const live = collect(client, query, { u: { a: 1 } });
      await live.ended;
      const error = live.errors[0] as Array<{ extensions?: { code?: string } }> | { extensions?: { code?: string } };
      const first = Array.isArray(error) ? error[0] : error;
      expect(first?.extensions?.code, JSON.stringify(live.errors)).toBe('BAD_USER_INPUT');
    } finally {
      await client.dispose();
    }
  });
});

describe('subscriptions per connection', () => {
  let db: TestDatabase;
  let server: TestServer;

  beforeAll(async () => {
    db = await createTestDatabase();
    server = await startTestServer(db.url, { SESSION_GAP: '30m', WS_MAX_SUBSCRIPTIONS: '3' });
  });
  afterAll(async () => {
    await server?.stop();
    await db?.drop();
  });

  it('answers TOO_MANY_SUBSCRIPTIONS past WS_MAX_SUBSCRIPTIONS on one socket; the others go on, and a completed one frees its place', async () => {
    const client = wsClient(server.wsUrl);
    try {
      const started = (user: string) => collect<{ userId: string }>(client, `subscription { sessionStarted(userId: "${user}") { userId } }`);
      const live = [started('s1'), started('s2'), started('s3')];
      const fourth = started('s4');
      await fourth.ended;
      expect(fourth.errors).toHaveLength(1);
      expect(JSON.stringify(fourth.errors)).toContain('TOO_MANY_SUBSCRIPTIONS');
      // The three still run.
      const ts = new Date(Date.now() - 60_000).toISOString();
      await gqlData(server.url, INGEST, { events: ['s1', 's2', 's3'].map((u, i) => ({ eventId: `w${i}`, userId: u, name: 'view', timestamp: ts })) });
      for (const [i, c] of live.entries()) expect((await c.waitFor(1))[0]?.userId).toBe(`s${i + 1}`);
      // One completed: a new one is taken, and runs.
      (live[0] as (typeof live)[number]).stop();
      const fifth = started('s5');
      await gqlData(server.url, INGEST, { events: [{ eventId: 'w5', userId: 's5', name: 'view', timestamp: ts }] });
      expect((await fifth.waitFor(1))[0]?.userId).toBe('s5');
      expect(fifth.errors).toEqual([]);
    } finally {
      await client.dispose();
    }
  });
});
