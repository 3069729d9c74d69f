import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { generateEvents, INGEST, inParallel, randomBatches, shuffle, shuffleWithin, toInput } from '../helpers/events.ts';
import { gqlData } from '../helpers/graphql.ts';
import { percentileCont, referenceSessions, rng, type RefEvent, type RefRules } from '../helpers/reference.ts';
import { allSessions, comparable, roundValues, sortSessions } from '../helpers/sessions.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

const GAP = 600_000; // 10m
const MAX = 7_200_000; // 2h
const LATENESS = 60_000; // 1m
const RULES: RefRules = {
  gapMs: GAP,
  maxDurationMs: MAX,
  conversionEvents: ['purchase'],
  engagedMinDurationMs: 10_000,
  engagedMinEvents: 2,
};
const ENV = { SESSION_GAP: '10m', SESSION_MAX_DURATION: '2h', ALLOWED_LATENESS: '1m', UPDATE_INTERVAL: '0s' };

async function ingestAll(url: string, arrival: RefEvent[], seed: number): Promise<{ accepted: number; duplicates: number }> {
  const random = rng(seed);
  const batches = randomBatches(arrival, 250, random);
  let accepted = 0;
  let duplicates = 0;
  await inParallel(batches, 4, async (batch) => {
    const data = await gqlData(url, INGEST, { events: batch.map(toInput) });
    expect(data['ingestEvents'].rejected).toEqual([]);
    accepted += data['ingestEvents'].accepted;
    duplicates += data['ingestEvents'].duplicates;
  });
  return { accepted, duplicates };
}

async function expectExact(url: string, events: RefEvent[]): Promise<void> {
  // Before the flush, only sessions the watermark has not passed may be OPEN (DESIGN: a session
  // closes once closesAt = endedAt + GAP < watermark = newest event - ALLOWED_LATENESS). Which of
  // them are still OPEN depends on the order the commits ran in (a late event does not reopen).
  const watermark = Math.max(...events.map((e) => e.ts)) - LATENESS;
  const mayBeOpen = new Set(referenceSessions(events, RULES).filter((s) => s.endedAt + GAP >= watermark).map((s) => `${s.userId}@${s.startedAt}`));
  const open = (await allSessions(url)).filter((s) => s['status'] === 'OPEN').map((s) => `${s['userId']}@${Date.parse(s['startedAt'])}`);
  expect(open.filter((key) => !mayBeOpen.has(key))).toEqual([]);
  // The flush closes exactly those, and says how many.
  const flushed = await gqlData(url, 'mutation { flushSessions { closed } }');
  expect(flushed['flushSessions'].closed).toBe(open.length);
  const stored = await allSessions(url);
  expect(stored.every((s) => s['status'] === 'CLOSED')).toBe(true);
  const byFlush = stored.filter((s) => s['closeReason'] === 'FLUSH').map((s) => `${s['userId']}@${Date.parse(s['startedAt'])}`);
  expect(byFlush.sort()).toEqual(open.sort());
  const expected = roundValues(referenceSessions(events, RULES));
  const actual = roundValues(sortSessions(stored.map(comparable)));
  expect(actual.length).toBe(expected.length);
  expect(actual).toEqual(expected);
  // ids are unique and versions positive
  expect(new Set(stored.map((s) => s['id'])).size).toBe(stored.length);
  expect(stored.every((s) => s['version'] >= 1)).toBe(true);
}

describe.each([
  ['in order', 'sorted'],
  ['shuffled within the lateness', 'within'],
  ['shuffled beyond the lateness', 'beyond'],
] as const)('ingest over HTTP into Postgres: %s', (_label, order) => {
  let db: TestDatabase;
  let server: TestServer;
  const seed = order === 'sorted' ? 11 : order === 'within' ? 22 : 33;
  const random = rng(seed);
  const events = generateEvents({
    users: 40,
    eventsPerUser: 60,
    startMs: Date.parse('2026-03-01T00:00:00Z'),
    gapMs: GAP,
    maxDurationMs: MAX,
    random,
  });
  const sorted = [...events].sort((a, b) => a.ts - b.ts || (a.eventId < b.eventId ? -1 : 1));
  const arrival =
    order === 'sorted' ? sorted : order === 'within' ? shuffleWithin(sorted, LATENESS, random) : shuffle(sorted, random);

  /** What sending every event answered: both tests read the sessions it stored, in either order. */
  let first: { accepted: number; duplicates: number };

  beforeAll(async () => {
    db = await createTestDatabase();
    server = await startTestServer(db.url, ENV);
    first = await ingestAll(server.url, arrival, seed);
  });
  afterAll(async () => {
    await server?.stop();
    await db?.drop();
  });

  it('stores exactly the sessions the rules give, and retries are duplicates', async () => {
    expect(first).toEqual({ accepted: events.length, duplicates: 0 });
    // A retry of some batches changes nothing.
    const retry = await ingestAll(server.url, arrival.slice(0, 300), seed + 1);
    expect(retry).toEqual({ accepted: 0, duplicates: 300 });
    await expectExact(server.url, events);
  });

  it('answers engagement statistics equal to values computed from the reference sessions', async () => {
    const ref = referenceSessions(events, RULES);
    const stats = (
      await gqlData(
        server.url,
        `{ engagementStats { sessions users events avgDurationSeconds medianDurationSeconds p90DurationSeconds
            avgEventsPerSession sessionsPerUser bounceRate engagementRate conversionRate totalValue } }`,
      )
    )['engagementStats'];
    const durations = ref.map((s) => s.durationSeconds);
    const n = ref.length;
    const users = new Set(ref.map((s) => s.userId)).size;
    expect(stats.sessions).toBe(n);
    expect(stats.users).toBe(users);
    expect(stats.events).toBe(events.length);
    expect(stats.avgDurationSeconds).toBeCloseTo(durations.reduce((a, b) => a + b, 0) / n, 6);
    expect(stats.medianDurationSeconds).toBeCloseTo(percentileCont(durations, 0.5), 6);
    expect(stats.p90DurationSeconds).toBeCloseTo(percentileCont(durations, 0.9), 6);
    expect(stats.avgEventsPerSession).toBeCloseTo(events.length / n, 9);
    expect(stats.sessionsPerUser).toBeCloseTo(n / users, 9);
    expect(stats.bounceRate).toBeCloseTo(ref.filter((s) => s.bounced).length / n, 9);
    expect(stats.engagementRate).toBeCloseTo(ref.filter((s) => s.engaged).length / n, 9);
    expect(stats.conversionRate).toBeCloseTo(ref.filter((s) => s.converted).length / n, 9);
    expect(stats.totalValue).toBeCloseTo(ref.reduce((a, s) => a + s.totalValue, 0), 6);

    const topUsers = (await gqlData(server.url, '{ topUsers(by: EVENTS, limit: 3) { userId sessions events totalValue } }'))['topUsers'];
    const perUser = new Map<string, { sessions: number; events: number }>();
    for (const s of ref) {
      const u = perUser.get(s.userId) ?? { sessions: 0, events: 0 };
      u.sessions += 1;
      u.events += s.eventCount;
      perUser.set(s.userId, u);
    }
    const expectedTop = [...perUser.entries()]
      .sort((a, b) => b[1].events - a[1].events || (a[0] < b[0] ? -1 : 1))
      .slice(0, 3)
      .map(([userId, u]) => ({ userId, sessions: u.sessions, events: u.events }));
    expect(topUsers.map((u: any) => ({ userId: u.userId, sessions: u.sessions, events: u.events }))).toEqual(expectedTop);

    const topChannels = (await gqlData(server.url, '{ topChannels(limit: 10) { channelId sessions events } }'))['topChannels'];
    const topCount = new Map<string, number>();
    for (const s of ref) if (s.topChannel) topCount.set(s.topChannel, (topCount.get(s.topChannel) ?? 0) + 1);
    for (const c of topChannels) expect(c.sessions).toBe(topCount.get(c.channelId) ?? 0);
    const channelEvents = new Map<string, number>();
    for (const e of events) if (e.channelId) channelEvents.set(e.channelId, (channelEvents.get(e.channelId) ?? 0) + 1);
    for (const c of topChannels) expect(c.events).toBe(channelEvents.get(c.channelId));
  });
});

describe('ingest over HTTP into Postgres: every event sent twice at once by different clients', () => {
  let db: TestDatabase;
  let server: TestServer;

  beforeAll(async () => {
    db = await createTestDatabase();
    server = await startTestServer(db.url, ENV);
  });
  afterAll(async () => {
    await server?.stop();
    await db?.drop();
  });

  // Groups commit two at a time (the next one's events go in while the one
  // before commits): copies of one event in neighbouring groups must still
  // count once, and late events of the later group must see the earlier one.
  it('accepts each event once and stores exactly the sessions the rules give', async () => {
    const random = rng(44);
    const events = generateEvents({ users: 30, eventsPerUser: 60, startMs: Date.parse('2026-04-01T00:00:00Z'), gapMs: GAP, maxDurationMs: MAX, random });
    const sorted = [...events].sort((a, b) => a.ts - b.ts || (a.eventId < b.eventId ? -1 : 1));
    const first = randomBatches(shuffle(sorted, random), 120, random);
    const second = randomBatches(shuffle(sorted, random), 120, random);
    const interleaved = first.flatMap((batch, i) => [batch, second[i] ?? []]).concat(second.slice(first.length));
    let accepted = 0;
    let duplicates = 0;
    await inParallel(interleaved, 8, async (batch) => {
      if (batch.length === 0) return;
      const data = await gqlData(server.url, INGEST, { events: batch.map(toInput) });
      accepted += data['ingestEvents'].accepted;
      duplicates += data['ingestEvents'].duplicates;
    });
    expect({ accepted, duplicates }).toEqual({ accepted: events.length, duplicates: events.length });
    await expectExact(server.url, events);
  });
});
