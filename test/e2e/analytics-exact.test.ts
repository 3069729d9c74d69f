// engagementStats, engagementSeries, topChannels and topUsers after in-order
// ingest, late events that merge and extend stored sessions, and with
// sessions still open, in two definitions: every answer equals a computation
// written here in plain TypeScript over the sessions the API lists
// (percentiles interpolated as percentile_cont, hour buckets of a +05:30 zone).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { INGEST } from '../helpers/events.ts';
import { gqlData } from '../helpers/graphql.ts';
import { rng } from '../helpers/random.ts';
import { allSessions } from '../helpers/sessions.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { waitUntil } from '../helpers/wait.ts';
import { compactRollups } from '../../src/store/rollup-compactor.ts';

const HOUR = 3_600_000;
const MINUTE = 60_000;
/** Asia/Kolkata: +05:30 all year. */
const KOLKATA_OFFSET = 5.5 * HOUR;
const DEFINITIONS = ['default', 'short'] as const;

type Session = Record<string, any>;

/** percentile_cont over sorted values (0 when there are none). */
function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  const pos = p * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return (sorted[lo] as number) + ((sorted[hi] as number) - (sorted[lo] as number)) * (pos - lo);
}

const mean = (values: readonly number[]): number => (values.length === 0 ? 0 : values.reduce((a, b) => a + b, 0) / values.length);
const share = (list: readonly Session[], key: string): number => mean(list.map((s) => (s[key] ? 1 : 0)));
const sum = (values: readonly number[]): number => values.reduce((a, b) => a + b, 0);

function expectedStats(list: readonly Session[]): Record<string, number> {
  const durations = list.map((s) => s['durationSeconds'] as number).sort((a, b) => a - b);
  const users = new Set(list.map((s) => s['userId'])).size;
  return {
    sessions: list.length,
    users,
    events: sum(list.map((s) => s['eventCount'])),
    avgDurationSeconds: mean(durations),
    medianDurationSeconds: percentile(durations, 0.5),
    p90DurationSeconds: percentile(durations, 0.9),
    avgEventsPerSession: mean(list.map((s) => s['eventCount'])),
    sessionsPerUser: users === 0 ? 0 : list.length / users,
    bounceRate: share(list, 'bounced'),
    engagementRate: share(list, 'engaged'),
    conversionRate: share(list, 'converted'),
    totalValue: sum(list.map((s) => s['totalValue'])),
  };
}

/** Buckets of `width` ms in a zone `offset` ms from UTC all year. */
function expectedSeries(list: readonly Session[], from: number, to: number, offset: number, width: number): Array<Record<string, number | string>> {
  const bucketOf = (t: number) => Math.floor((t + offset) / width) * width - offset;
  const out: Array<Record<string, number | string>> = [];
  for (let start = bucketOf(from); start < to; start += width) {
    const inBucket = list.filter((s) => bucketOf(Date.parse(s['startedAt'])) === start);
    const stats = expectedStats(inBucket);
    out.push({
      start: new Date(start).toISOString(),
      sessions: stats['sessions'] as number,
      users: stats['users'] as number,
      events: stats['events'] as number,
      avgDurationSeconds: stats['avgDurationSeconds'] as number,
      bounceRate: stats['bounceRate'] as number,
      engagementRate: stats['engagementRate'] as number,
      conversionRate: stats['conversionRate'] as number,
      totalValue: stats['totalValue'] as number,
    });
  }
  return out;
}

function expectedTopUsers(list: readonly Session[], by: 'sessions' | 'events' | 'totalValue'): Array<Record<string, unknown>> {
  const byUser = new Map<string, { userId: string; sessions: number; events: number; totalValue: number }>();
  for (const s of list) {
    const row = byUser.get(s['userId']) ?? { userId: s['userId'], sessions: 0, events: 0, totalValue: 0 };
    row.sessions += 1;
    row.events += s['eventCount'];
    row.totalValue += s['totalValue'];
    byUser.set(s['userId'], row);
  }
  return [...byUser.values()].sort((a, b) => b[by] - a[by] || (a.userId < b.userId ? -1 : a.userId > b.userId ? 1 : 0));
}

function expectedTopChannels(list: readonly Session[]): Array<Record<string, unknown>> {
  const byChannel = new Map<string, { channelId: string; sessions: number; events: number }>();
  for (const s of list) {
    for (const c of s['channels'] as Array<{ channelId: string; count: number }>) {
      const row = byChannel.get(c.channelId) ?? { channelId: c.channelId, sessions: 0, events: 0 };
      row.events += c.count;
      if (s['topChannel'] === c.channelId) row.sessions += 1;
      byChannel.set(c.channelId, row);
    }
  }
  return [...byChannel.values()].sort(
    (a, b) => b.sessions - a.sessions || b.events - a.events || (a.channelId < b.channelId ? -1 : a.channelId > b.channelId ? 1 : 0),
  );
}

/**
 * The expected values with every number matched within 5e-7 (float sums in
 * another order differ in the last bits; rounding both sides flips on a
 * boundary). Counts are whole numbers: for them this is equality.
 */
const close = (value: unknown): unknown =>
  Array.isArray(value)
    ? value.map(close)
    : value !== null && typeof value === 'object'
      ? Object.fromEntries(Object.entries(value).map(([k, v]) => [k, close(v)]))
      : typeof value === 'number'
        ? expect.closeTo(value, 6)
        : value;

type Prisma = TestServer['service']['database']['prisma'];

/**
 * The rollups of a definition build against its CLOSED sessions, read in one
 * snapshot: the sums per UTC hour, and per hour and channel, computed here
 * from the rows, equal what the rows of session_hours and
 * session_hour_channels add up to (folded or not).
 */
async function expectRollupsExact(prisma: Prisma, definition: string): Promise<number> {
  const [, keys, closed, hours, channels] = (await prisma.$transaction(
    [
      prisma.$executeRawUnsafe('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ'),
      prisma.$queryRawUnsafe<Array<{ key: string }>>('SELECT active_key AS key FROM session_definitions WHERE name = $1', definition),
      prisma.$queryRawUnsafe<Session[]>(
        `SELECT s.started_at AS "startedAt", s.event_count AS events, s.duration_seconds AS duration, s.bounced, s.engaged, s.converted,
           s.total_value AS value, s.top_channel AS "topChannel", s.channels
         FROM sessions s JOIN session_definitions d ON d.active_key = s.definition WHERE d.name = $1 AND s.status = 'CLOSED'`,
        definition,
      ),
      prisma.$queryRawUnsafe<Session[]>(
        `SELECT h.hour, sum(sessions)::int AS sessions, sum(events)::int AS events, sum(duration_seconds)::float8 AS duration,
           sum(bounced)::int AS bounced, sum(engaged)::int AS engaged, sum(converted)::int AS converted, sum(total_value)::float8 AS value
         FROM session_hours h JOIN session_definitions d ON d.active_key = h.definition WHERE d.name = $1
         GROUP BY 1 HAVING (sum(sessions), sum(events), sum(duration_seconds), sum(bounced), sum(engaged), sum(converted), sum(total_value))
           <> (0, 0, 0, 0, 0, 0, 0) ORDER BY 1`,
        definition,
      ),
      prisma.$queryRawUnsafe<Session[]>(
        `SELECT h.hour, channel_id AS "channelId", sum(sessions)::int AS sessions, sum(events)::int AS events
         FROM session_hour_channels h JOIN session_definitions d ON d.active_key = h.definition WHERE d.name = $1
         GROUP BY 1, 2 HAVING (sum(sessions), sum(events)) <> (0, 0) ORDER BY 1, 2`,
        definition,
      ),
    ],
  )) as [unknown, Array<{ key: string }>, Session[], Session[], Session[]];
  expect(keys[0]?.key).toBeTruthy();
  const byHour = new Map<number, { sessions: number; events: number; duration: number; bounced: number; engaged: number; converted: number; value: number }>();
  const byChannel = new Map<string, { hour: number; channelId: string; sessions: number; events: number }>();
  for (const s of closed) {
    const hour = Math.floor(new Date(s['startedAt']).getTime() / HOUR) * HOUR;
    const row = byHour.get(hour) ?? { sessions: 0, events: 0, duration: 0, bounced: 0, engaged: 0, converted: 0, value: 0 };
    row.sessions += 1;
    row.events += s['events'];
    row.duration += s['duration'];
    row.bounced += s['bounced'] ? 1 : 0;
    row.engaged += s['engaged'] ? 1 : 0;
    row.converted += s['converted'] ? 1 : 0;
    row.value += s['value'];
    byHour.set(hour, row);
    for (const c of s['channels'] as Array<{ channelId: string; count: number }>) {
      const k = `${hour} ${c.channelId}`;
      const cell = byChannel.get(k) ?? { hour, channelId: c.channelId, sessions: 0, events: 0 };
      cell.sessions += s['topChannel'] === c.channelId ? 1 : 0;
      cell.events += c.count;
      byChannel.set(k, cell);
    }
  }
  const expectedHours = [...byHour.entries()].sort(([a], [b]) => a - b).map(([hour, row]) => ({ hour, ...row }));
  expect(hours.map((h) => ({ ...h, hour: new Date(h['hour']).getTime() }))).toEqual(close(expectedHours));
  const expectedChannels = [...byChannel.values()];
  const order = (a: Session, b: Session) => a['hour'] - b['hour'] || (a['channelId'] < b['channelId'] ? -1 : 1);
  expect(channels.map((c) => ({ ...c, hour: new Date(c['hour']).getTime() })).sort(order)).toEqual(expectedChannels.sort(order));
  return closed.length;
}

const STATS = `query($definition: String, $from: DateTime, $to: DateTime) { engagementStats(definition: $definition, from: $from, to: $to) {
  sessions users events avgDurationSeconds medianDurationSeconds p90DurationSeconds avgEventsPerSession sessionsPerUser
  bounceRate engagementRate conversionRate totalValue } }`;

describe('analytics after late merges, with open sessions', () => {
  let db: TestDatabase;
  let server: TestServer;
  let dir: string;
  let base: number;
  let end: number;
  let sessionsBeforeLate = 0;

  beforeAll(async () => {
    db = await createTestDatabase();
    dir = mkdtempSync(path.join(tmpdir(), 'analytics-exact-'));
    const file = path.join(dir, 'definitions.json');
    writeFileSync(file, JSON.stringify({ definitions: [{ name: 'default' }, { name: 'short', gap: '3m' }] }));
    server = await startTestServer(db.url, { SESSION_GAP: '10m', ALLOWED_LATENESS: '0s', SESSION_DEFINITIONS: file });

    // Recent event times, so that the last sessions are still open when the answers are compared.
    end = Date.now() - 2 * MINUTE;
    base = end - 4 * HOUR;
    const random = rng(1307);
    const pick = <T,>(list: readonly T[]): T => list[Math.floor(random() * list.length)] as T;
    const inOrder: Array<Record<string, unknown>> = [];
    const late: Array<Record<string, unknown>> = [];
    const event = (user: number, i: number, ts: number) => {
      const name = pick(['page_view', 'page_view', 'click', 'purchase']);
      return {
        eventId: `af-${user}-${i}`,
        userId: `af-user-${user}`,
        name,
        timestamp: new Date(ts).toISOString(),
        channelId: pick(['web', 'ios', 'android', null]),
        ...(name === 'purchase' ? { value: Math.round(random() * 5000) / 100 } : {}),
      };
    };
    for (let user = 0; user < 30; user++) {
      let ts = base + Math.floor(random() * HOUR);
      for (let i = 0; ts < end; i++) {
        inOrder.push(event(user, i, ts));
        // One gap in four is 20 minutes: two default sessions, which a late event at its middle joins.
        const step = random() < 0.25 ? 20 * MINUTE : Math.floor(random() * 4 * MINUTE) + 1_000;
        if (step === 20 * MINUTE && ts + step < end && random() < 0.5) late.push(event(user, 10_000 + i, ts + 10 * MINUTE));
        ts += step;
      }
    }
    inOrder.sort((a, b) => Date.parse(a['timestamp'] as string) - Date.parse(b['timestamp'] as string));
    for (let i = 0; i < inOrder.length; i += 100) {
      const batch = inOrder.slice(i, i + 100);
      expect((await gqlData(server.url, INGEST, { events: batch }))['ingestEvents']).toMatchObject({ accepted: batch.length, rejected: [] });
    }
    sessionsBeforeLate = (await allSessions(server.url)).length;
    expect(late.length).toBeGreaterThan(10);
    for (let i = 0; i < late.length; i += 7) {
      const batch = late.slice(i, i + 7);
      expect((await gqlData(server.url, INGEST, { events: batch }))['ingestEvents']).toMatchObject({ accepted: batch.length, rejected: [] });
    }
  });
  afterAll(async () => {
    await server?.stop();
    await db?.drop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('merged sessions away with the late events, and keeps some sessions open', async () => {
    const sessions = await allSessions(server.url);
    expect(sessions.length).toBeLessThan(sessionsBeforeLate);
    expect(sessions.some((s) => s['status'] === 'OPEN')).toBe(true);
    expect(sessions.filter((s) => s['status'] === 'CLOSED').length).toBeGreaterThan(50);
  });

  describe.each(DEFINITIONS)('definition %s', (definition) => {
    let sessions: Session[] = [];
    // Unbounded, with partial hours at both ends, on whole hours, open on
    // one side, inside one hour, and empty: the rollup's whole hours, its
    // edges and the facts alone.
    const hourAfter = (t: number) => Math.ceil(t / HOUR) * HOUR;
    const ranges = () => [
      { from: null, to: null },
      { from: base + HOUR + 17 * MINUTE, to: base + 3 * HOUR + 5 * MINUTE },
      { from: hourAfter(base + HOUR), to: hourAfter(base + 3 * HOUR) },
      { from: base + 2 * HOUR + 1, to: null },
      { from: null, to: hourAfter(base + 2 * HOUR) },
      { from: hourAfter(base + 2 * HOUR) + 5 * MINUTE, to: hourAfter(base + 2 * HOUR) + 50 * MINUTE },
      { from: base + 2 * HOUR, to: base + 2 * HOUR },
    ];
    /** Ranges expected to hold sessions (all but the empty one). */
    const held = (range: { from: number | null; to: number | null }) => range.from === null || range.to === null || range.to > range.from;
    const within = (range: { from: number | null; to: number | null }) =>
      sessions.filter((s) => (range.from === null || Date.parse(s['startedAt']) >= range.from) && (range.to === null || Date.parse(s['startedAt']) < range.to));
    const vars = (range: { from: number | null; to: number | null }) => ({
      definition,
      from: range.from === null ? null : new Date(range.from).toISOString(),
      to: range.to === null ? null : new Date(range.to).toISOString(),
    });

    beforeAll(async () => {
      sessions = await allSessions(server.url, {}, definition);
    });

    const checkStats = async () => {
      for (const range of ranges()) {
        const data = await gqlData(server.url, STATS, vars(range));
        const expected = expectedStats(within(range));
        if (held(range)) expect(expected['sessions']).toBeGreaterThan(5);
        expect(data['engagementStats']).toEqual(close(expected));
      }
    };
    it('engagementStats equals the sessions listed', checkStats);

    it('engagementStats of one user equals that user\'s sessions listed', async () => {
      const users = [...new Set(sessions.map((s) => s['userId'] as string))].sort().slice(0, 4);
      expect(users.length).toBe(4);
      for (const userId of users) {
        for (const range of ranges()) {
          const data = await gqlData(
            server.url,
            `query($definition: String, $from: DateTime, $to: DateTime, $userId: ID) {
              engagementStats(definition: $definition, from: $from, to: $to, userId: $userId) {
                sessions users events avgDurationSeconds medianDurationSeconds p90DurationSeconds avgEventsPerSession sessionsPerUser
                bounceRate engagementRate conversionRate totalValue } }`,
            { ...vars(range), userId },
          );
          expect(data['engagementStats']).toEqual(close(expectedStats(within(range).filter((s) => s['userId'] === userId))));
        }
      }
    });

    // Hours of a +05:30 zone are read from the facts alone; UTC hours and
    // days (every bucket on a whole hour) through the hourly rollup.
    // From before the first session, and from inside the sessions (the first
    // bucket then starts before `from`: a user counts there through its
    // first session after `from`).
    const checkSeries = async (interval: 'HOUR' | 'DAY', timeZone: string, offset: number, width: number) => {
      for (const range of [
        { from: base - HOUR + 7 * MINUTE, to: end + HOUR },
        { from: base + 2 * HOUR + 7 * MINUTE, to: end - 13 * MINUTE },
      ]) {
        const data = await gqlData(
          server.url,
          `query($definition: String, $from: DateTime!, $to: DateTime!, $interval: Interval!, $timeZone: String!) {
            engagementSeries(definition: $definition, from: $from, to: $to, interval: $interval, timeZone: $timeZone) {
            start sessions users events avgDurationSeconds bounceRate engagementRate conversionRate totalValue } }`,
          { ...vars(range), interval, timeZone },
        );
        const series = (data['engagementSeries'] as Session[]).map((b) => ({ ...b, start: new Date(b['start']).toISOString() }));
        expect(series).toEqual(close(expectedSeries(within(range), range.from, range.to, offset, width)));
      }
    };
    it.each([
      ['HOUR', 'Asia/Kolkata', KOLKATA_OFFSET, HOUR],
      ['HOUR', 'UTC', 0, HOUR],
      ['DAY', 'Etc/GMT-3', 3 * HOUR, 24 * HOUR],
    ] as const)('engagementSeries (%s in %s) equals the sessions listed', checkSeries);

    it('topUsers by each ranking equals the sessions listed', async () => {
      for (const range of ranges()) {
        for (const [by, key] of [['SESSIONS', 'sessions'], ['EVENTS', 'events'], ['VALUE', 'totalValue']] as const) {
          const data = await gqlData(
            server.url,
            `query($definition: String, $from: DateTime, $to: DateTime, $by: UserRanking) { topUsers(definition: $definition, from: $from, to: $to, by: $by, limit: 100) {
              userId sessions events totalValue } }`,
            { ...vars(range), by },
          );
          expect(data['topUsers']).toEqual(close(expectedTopUsers(within(range), key)));
        }
      }
    });

    it('analytics.daily_engagement (the BI view) equals the sessions listed, per UTC day', async () => {
      const rows = await server.service.database.prisma.$queryRawUnsafe<Session[]>(
        `SELECT to_char(day, 'YYYY-MM-DD') AS day, sessions, users, events::int AS events, avg_duration_seconds AS "avgDurationSeconds",
           bounce_rate AS "bounceRate", engagement_rate AS "engagementRate", conversion_rate AS "conversionRate", total_value AS "totalValue"
         FROM analytics.daily_engagement WHERE definition = $1 ORDER BY day`,
        definition,
      );
      const days = [...new Set(sessions.map((s) => (s['startedAt'] as string).slice(0, 10)))].sort();
      const expected = days.map((day) => {
        const list = sessions.filter((s) => (s['startedAt'] as string).startsWith(day));
        const e = expectedStats(list);
        return {
          day,
          sessions: e['sessions'],
          users: e['users'],
          events: e['events'],
          avgDurationSeconds: e['avgDurationSeconds'],
          bounceRate: e['bounceRate'],
          engagementRate: e['engagementRate'],
          conversionRate: e['conversionRate'],
          totalValue: e['totalValue'],
        };
      });
      expect(expected.some((d) => (d.users as number) < (d.sessions as number))).toBe(true); // users with several sessions a day
      expect(rows).toEqual(close(expected));
    });

    const checkTopChannels = async () => {
      for (const range of ranges()) {
        const data = await gqlData(
          server.url,
          `query($definition: String, $from: DateTime, $to: DateTime) { topChannels(definition: $definition, from: $from, to: $to, limit: 100) { channelId sessions events } }`,
          vars(range),
        );
        const expected = expectedTopChannels(within(range));
        if (held(range)) expect(expected.length).toBeGreaterThan(1);
        expect(data['topChannels']).toEqual(expected);
      }
    };
    it('topChannels equals the sessions listed', checkTopChannels);

    it('keeps the rollups equal to the closed sessions as written and once folded, and every answer after folding', async () => {
      const prisma = server.service.database.prisma;
      expect(await expectRollupsExact(prisma, definition)).toBeGreaterThan(50);
      await waitUntil(() => compactRollups(prisma), 'a turn of the rollup compactor');
      const unfolded = await prisma.$queryRawUnsafe<Array<{ n: number }>>(
        `SELECT (SELECT count(*) FROM (SELECT 1 FROM session_hours WHERE compacted GROUP BY definition, hour HAVING count(*) > 1) AS h)::int
           + (SELECT count(*) FROM (SELECT 1 FROM session_hour_channels WHERE compacted GROUP BY definition, hour, channel_id HAVING count(*) > 1) AS c)::int AS n`,
      );
      expect(unfolded).toEqual([{ n: 0 }]);
      await expectRollupsExact(prisma, definition);
      await checkStats();
      await checkTopChannels();
      await checkSeries('HOUR', 'UTC', 0, HOUR);

      // The answers do read the rollup: 1,000 sessions of 2 events added to
      // the first of the whole hours of the range on whole hours show up in
      // engagementStats, and nothing else does.
      const [range] = ranges().slice(2, 3);
      if (range?.from == null || range.to == null) throw new Error('the third range is bounded');
      const hour = new Date(hourAfter(range.from)).toISOString();
      const before = (await gqlData(server.url, STATS, vars(range)))['engagementStats'] as Record<string, number>;
      await prisma.$executeRawUnsafe(
        `INSERT INTO session_hours (definition, hour, sessions, events, duration_seconds, bounced, engaged, converted, total_value, compacted)
         SELECT active_key, $2::timestamptz, 1000, 2000, 0, 0, 0, 0, 0, true FROM session_definitions WHERE name = $1`,
        definition,
        hour,
      );
      try {
        const after = (await gqlData(server.url, STATS, vars(range)))['engagementStats'] as Record<string, number>;
        expect({ sessions: after['sessions'], events: after['events'], users: after['users'] }).toEqual({
          sessions: (before['sessions'] as number) + 1000,
          events: (before['events'] as number) + 2000,
          users: before['users'],
        });
      } finally {
        await prisma.$executeRawUnsafe(`DELETE FROM session_hours WHERE hour = $1::timestamptz AND sessions = 1000 AND events = 2000`, hour);
      }
    });
  });
});
