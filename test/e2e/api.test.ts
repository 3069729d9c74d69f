import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { INGEST, SESSION_FIELDS } from '../helpers/events.ts';
import { gql, gqlData } from '../helpers/graphql.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

const ev = (over: Record<string, unknown>) => ({
  eventId: `e-${Math.random().toString(36).slice(2)}`,
  userId: 'api-user',
  name: 'page_view',
  timestamp: '2026-01-10T10:00:00Z',
  ...over,
});

describe('ingest validation and queries', () => {
  let db: TestDatabase;
  let server: TestServer;

  beforeAll(async () => {
    db = await createTestDatabase();
    server = await startTestServer(db.url, { MAX_BATCH_SIZE: '20', SESSION_GAP: '30m', ALLOWED_LATENESS: '0s' });
  });
  afterAll(async () => {
    await server?.stop();
    await db?.drop();
  });

  it('rejects each malformed event by index with its code and accepts the valid ones', async () => {
    const future = new Date(Date.now() + 3_600_000).toISOString();
    const events = [
      ev({ userId: 'v1', eventId: 'valid-1' }),
      ev({ userId: '' }),
      ev({ name: '   ' }),
      ev({ timestamp: '2026-02-30T10:00:00Z' }),
      ev({ timestamp: '2026-01-10T10:00:00' }),
      ev({ timestamp: 'yesterday' }),
      ev({ timestamp: future }),
      ev({ name: 'x'.repeat(300) }),
      ev({ properties: { blob: 'y'.repeat(20_000) } }),
      ev({ timestamp: '' }),
      ev({ userId: 'v1', eventId: 'valid-2', timestamp: '2026-01-10T12:00:00+02:00', properties: { page: '/home' } }),
    ];
    const data = await gqlData(server.url, INGEST, { events });
    expect(data['ingestEvents'].accepted).toBe(2);
    expect(data['ingestEvents'].duplicates).toBe(0);
    expect(data['ingestEvents'].rejected.map((r: any) => [r.index, r.code])).toEqual([
      [1, 'MISSING_FIELD'],
      [2, 'MISSING_FIELD'],
      [3, 'INVALID_TIMESTAMP'],
      [4, 'INVALID_TIMESTAMP'],
      [5, 'INVALID_TIMESTAMP'],
      [6, 'FUTURE_TIMESTAMP'],
      [7, 'FIELD_TOO_LONG'],
      [8, 'PROPERTIES_TOO_LARGE'],
      // A blank time is not a time (docs/cli.md says the same of the command line).
      [9, 'INVALID_TIMESTAMP'],
    ]);
    for (const r of data['ingestEvents'].rejected) expect(r.message.length).toBeGreaterThan(5);
    const sessions = await gqlData(server.url, `{ sessions(userId: "v1") { nodes { eventCount startedAt endedAt } } }`);
    // 10:00Z and 12:00+02:00 (= 10:00Z) are the same instant: one session of two events.
    expect(sessions['sessions'].nodes).toEqual([
      { eventCount: 2, startedAt: '2026-01-10T10:00:00.000Z', endedAt: '2026-01-10T10:00:00.000Z' },
    ]);
  });

  it('rejects a non-finite value (a float literal too large for a double) as VALUE_NOT_FINITE', async () => {
    const data = await gqlData(
      server.url,
      `mutation { ingestEvents(events: [
        { eventId: "nf-1", userId: "nf", name: "purchase", timestamp: "2026-01-10T10:00:00Z", value: 1e400 },
        { eventId: "nf-2", userId: "nf", name: "purchase", timestamp: "2026-01-10T10:01:00Z", value: 5 }
      ]) { accepted rejected { index code } } }`,
    );
    expect(data['ingestEvents']).toEqual({ accepted: 1, rejected: [{ index: 0, code: 'VALUE_NOT_FINITE' }] });
  });

  it('refuses a batch over MAX_BATCH_SIZE whole and stores none of it', async () => {
    const events = Array.from({ length: 21 }, (_, i) => ev({ userId: 'big', eventId: `big-${i}` }));
    const result = await gql(server.url, INGEST, { events });
    expect(result.errors?.[0]?.extensions?.code).toBe('BATCH_TOO_LARGE');
    const sessions = await gqlData(server.url, `{ sessions(userId: "big") { nodes { id } } }`);
    expect(sessions['sessions'].nodes).toEqual([]);
  });

  it('reports a retried batch as duplicates (ingestEvent too) and changes nothing', async () => {
    const events = [ev({ userId: 'dup', eventId: 'dup-1' }), ev({ userId: 'dup', eventId: 'dup-1' })];
    const first = await gqlData(server.url, INGEST, { events });
    expect(first['ingestEvents']).toMatchObject({ accepted: 1, duplicates: 1 });
    const again = await gqlData(
      server.url,
      `mutation($e: EventInput!) { ingestEvent(event: $e) { accepted duplicates rejected { code } } }`,
      { e: events[0] },
    );
    expect(again['ingestEvent']).toEqual({ accepted: 0, duplicates: 1, rejected: [] });
    const sessions = await gqlData(server.url, `{ sessions(userId: "dup") { nodes { eventCount version } } }`);
    expect(sessions['sessions'].nodes).toEqual([{ eventCount: 1, version: 1 }]);
  });

  it('pages sessions newest first with cursors, and rejects a forged cursor', async () => {
    // 7 sessions of one user, two hours apart.
    const events = Array.from({ length: 7 }, (_, i) =>
      ev({ userId: 'pager', eventId: `pg-${i}`, timestamp: new Date(Date.UTC(2026, 0, 5, i * 2)).toISOString() }),
    );
    await gqlData(server.url, INGEST, { events });
    const seen: string[] = [];
    let after: string | null = null;
    let pages = 0;
    for (;;) {
      const data: any = await gqlData(
        server.url,
        `query($after: String) { sessions(userId: "pager", first: 3, after: $after) { edges { cursor node { id startedAt } } pageInfo { hasNextPage endCursor } } }`,
        { after },
      );
      pages += 1;
      for (const e of data.sessions.edges) seen.push(e.node.startedAt);
      if (!data.sessions.pageInfo.hasNextPage) break;
      after = data.sessions.pageInfo.endCursor;
    }
    expect(pages).toBe(3);
    expect(seen).toEqual([...events].reverse().map((e) => new Date(e['timestamp'] as string).toISOString()));
    const bad = await gql(server.url, `{ sessions(after: "bm90LWEtY3Vyc29y") { nodes { id } } }`);
    expect(bad.errors?.[0]?.extensions?.code).toBe('INVALID_CURSOR');

    // Backwards from the oldest end: last/before walk the same order from the other side.
    const newestFirst = [...events].reverse().map((e) => new Date(e['timestamp'] as string).toISOString());
    const back: string[][] = [];
    let before: string | null = null;
    for (;;) {
      const data: any = await gqlData(
        server.url,
        `query($before: String) { sessions(userId: "pager", last: 3, before: $before) {
           edges { node { startedAt } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } totalCount } }`,
        { before },
      );
      back.push(data.sessions.edges.map((e: any) => e.node.startedAt));
      expect(data.sessions.totalCount).toBe(7);
      expect(data.sessions.pageInfo.hasNextPage).toBe(before !== null);
      if (!data.sessions.pageInfo.hasPreviousPage) break;
      before = data.sessions.pageInfo.startCursor;
    }
    expect(back).toEqual([newestFirst.slice(4), newestFirst.slice(1, 4), newestFirst.slice(0, 1)]);

    // first: 0 is an empty page that still says whether there is more; the filters apply to totalCount.
    const empty = await gqlData(
      server.url,
      `{ sessions(userId: "pager", first: 0, from: "2026-01-05T04:00:00Z") { nodes { id } totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }`,
    );
    expect(empty['sessions']).toEqual({ nodes: [], totalCount: 5, pageInfo: { hasNextPage: true, hasPreviousPage: false, startCursor: null, endCursor: null } });
    for (const args of ['first: 2, last: 2', 'last: 2, after: "x"', 'before: "x"', 'first: -1', 'last: -3']) {
      const refused = await gql(server.url, `{ sessions(${args}) { nodes { id } } }`);
      expect(refused.errors?.[0]?.extensions?.code, args).toBe('BAD_USER_INPUT');
    }
    const ranged = await gqlData(
      server.url,
      `{ sessions(userId: "pager", from: "2026-01-05T02:00:00Z", to: "2026-01-05T06:00:00Z") { nodes { startedAt } } }`,
    );
    expect(ranged['sessions'].nodes.map((n: any) => n.startedAt)).toEqual(['2026-01-05T04:00:00.000Z', '2026-01-05T02:00:00.000Z']);
  });

  it('looks a session up by id with every field', async () => {
    // Its own user, so that the test stands alone; whether the session is still
    // open depends on what other tests sent before (the watermark), so that is not asserted.
    await gqlData(server.url, INGEST, {
      events: [ev({ userId: 'lookup-1', timestamp: '2026-01-10T10:00:00Z' }), ev({ userId: 'lookup-1', name: 'click', timestamp: '2026-01-10T10:05:00Z' })],
    });
    const list = await gqlData(server.url, `{ sessions(userId: "lookup-1") { nodes { ${SESSION_FIELDS} } } }`);
    expect(list['sessions'].nodes).toHaveLength(1);
    const node = list['sessions'].nodes[0];
    const one = await gqlData(server.url, `query($id: ID!) { session(id: $id) { ${SESSION_FIELDS} } }`, { id: node.id });
    expect(one['session']).toEqual(node);
    expect(node).toMatchObject({
      userId: 'lookup-1',
      startedAt: '2026-01-10T10:00:00.000Z',
      endedAt: '2026-01-10T10:05:00.000Z',
      eventCount: 2,
      bounced: false,
      engaged: true,
    });
    const missing = await gqlData(server.url, `{ session(id: "00000000-0000-0000-0000-000000000000") { id } }`);
    expect(missing['session']).toBeNull();
  });

  it('buckets by local days and hours across a DST change, and rejects an unknown time zone', async () => {
    // Europe/Paris springs forward on 2026-03-29 (02:00 -> 03:00).
    const times = ['2026-03-28T22:30:00Z', '2026-03-28T23:30:00Z', '2026-03-29T12:00:00Z', '2026-03-29T22:30:00Z'];
    await gqlData(server.url, INGEST, {
      events: times.map((t, i) => ev({ userId: `dst-${i}`, eventId: `dst-${i}`, timestamp: t })),
    });
    const days = await gqlData(
      server.url,
      `{ engagementSeries(from: "2026-03-28T00:00:00+01:00", to: "2026-03-31T00:00:00+02:00", interval: DAY, timeZone: "Europe/Paris") { start sessions } }`,
    );
    expect(days['engagementSeries']).toEqual([
      { start: '2026-03-27T23:00:00.000Z', sessions: 1 }, // Mar 28 local: 22:30Z is 23:30 CET
      { start: '2026-03-28T23:00:00.000Z', sessions: 2 }, // Mar 29 local (23 hours long)
      { start: '2026-03-29T22:00:00.000Z', sessions: 1 }, // Mar 30 local: 22:30Z is 00:30 CEST
    ]);
    const hours = await gqlData(
      server.url,
      `{ engagementSeries(from: "2026-03-29T00:00:00+01:00", to: "2026-03-30T00:00:00+02:00", interval: HOUR, timeZone: "Europe/Paris") { start sessions } }`,
    );
    expect(hours['engagementSeries']).toHaveLength(23);
    expect(hours['engagementSeries'].reduce((a: number, b: any) => a + b.sessions, 0)).toBe(2);
    const bad = await gql(
      server.url,
      `{ engagementSeries(from: "2026-03-29T00:00:00Z", to: "2026-03-30T00:00:00Z", interval: DAY, timeZone: "Mars/Olympus") { start } }`,
    );
    expect(bad.errors?.[0]?.extensions?.code).toBe('INVALID_TIME_ZONE');
    const badDate = await gql(server.url, `{ engagementStats(from: "last week") { sessions } }`);
    expect(badDate.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });

  it('buckets the 25-hour fall-back day hour by hour, and weeks from local Monday midnight', async () => {
    // Europe/Paris falls back on 2026-10-25 (03:00 CEST -> 02:00 CET): 02:00-03:00 local happens twice.
    const times = ['2026-10-25T00:10:00Z', '2026-10-25T01:10:00Z', '2026-10-25T01:50:00Z', '2026-10-25T22:59:59.999Z'];
    await gqlData(server.url, INGEST, {
      events: times.map((t, i) => ev({ userId: `fall-${i}`, eventId: `fall-${i}`, timestamp: t })),
    });
    const hours = await gqlData(
      server.url,
      `{ engagementSeries(from: "2026-10-25T00:00:00+02:00", to: "2026-10-26T00:00:00+01:00", interval: HOUR, timeZone: "Europe/Paris") { start sessions } }`,
    );
    const series = hours['engagementSeries'] as Array<{ start: string; sessions: number }>;
    expect(series).toHaveLength(25);
    // Every bucket is one real hour: starts are consecutive UTC hours from 22:00Z the day before.
    series.forEach((b, i) => expect(b.start).toBe(new Date(Date.UTC(2026, 9, 24, 22 + i)).toISOString()));
    // 00:10Z = 02:10 CEST (first 02:00 hour), 01:10Z = 02:10 CET (second one), 01:50Z same hour.
    expect(series.filter((b) => b.sessions > 0)).toEqual([
      { start: '2026-10-25T00:00:00.000Z', sessions: 1 },
      { start: '2026-10-25T01:00:00.000Z', sessions: 2 },
      { start: '2026-10-25T22:00:00.000Z', sessions: 1 },
    ]);
    const weeks = await gqlData(
      server.url,
      `{ engagementSeries(from: "2026-10-19T00:00:00+02:00", to: "2026-11-02T00:00:00+01:00", interval: WEEK, timeZone: "Europe/Paris") { start sessions } }`,
    );
    expect(weeks['engagementSeries']).toEqual([
      { start: '2026-10-18T22:00:00.000Z', sessions: 4 }, // Monday Oct 19, 00:00 CEST
      { start: '2026-10-25T23:00:00.000Z', sessions: 0 }, // Monday Oct 26, 00:00 CET
    ]);
  });

  it('derives an id for events sent without one, so a retry counts once', async () => {
    const event = { userId: 'no-id', name: 'page_view', timestamp: '2026-01-11T10:00:00Z', channelId: 'web', properties: { a: 1 } };
    const first = await gqlData(server.url, INGEST, { events: [event] });
    expect(first['ingestEvents']).toMatchObject({ accepted: 1, duplicates: 0 });
    const retry = await gqlData(server.url, INGEST, { events: [event, event] });
    expect(retry['ingestEvents']).toMatchObject({ accepted: 0, duplicates: 2 });
    // Any difference makes another event.
    const other = await gqlData(server.url, INGEST, {
      events: [
        { ...event, timestamp: '2026-01-11T10:00:00.001Z' },
        { ...event, properties: { a: 2 } },
        { ...event, channelId: null },
      ],
    });
    expect(other['ingestEvents']).toMatchObject({ accepted: 3, duplicates: 0 });
    const stats = await gqlData(server.url, '{ engagementStats(userId: "no-id") { events } }');
    expect(stats['engagementStats'].events).toBe(4);
  });
});
