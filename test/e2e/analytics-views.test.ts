import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_URL, createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { INGEST } from '../helpers/events.ts';
import { gqlData } from '../helpers/graphql.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

/** Runs SQL with the rights of a `sessions_reader` member only. */
interface ReaderConnection {
  query<T = Record<string, unknown>>(sql: string): Promise<T[]>;
  close(): Promise<void>;
}

const ev = (userId: string, eventId: string, timestamp: string, over: Record<string, unknown> = {}) => ({
  eventId,
  userId,
  name: 'page_view',
  timestamp,
  ...over,
});

/**
 * Two UTC days whose statistics are worked out by hand below (SESSION_GAP
 * 30m, engaged = 10 s or 2 events or a purchase). u2's session starts on
 * March 1 and goes on past midnight: it counts on the day it started.
 */
const EVENTS = [
  ev('u1', 'a1', '2026-03-01T10:00:00Z', { channelId: 'web' }),
  ev('u1', 'a2', '2026-03-01T10:00:20Z', { channelId: 'web', name: 'purchase', value: 0.1 }),
  ev('u1', 'a3', '2026-03-01T10:01:00Z', { channelId: 'ios', name: 'click' }),
  ev('u1', 'c1', '2026-03-01T15:00:00Z', { name: 'purchase', value: 0.2 }),
  ev('u2', 'b1', '2026-03-01T23:59:00Z', { channelId: 'ios' }),
  ev('u2', 'b2', '2026-03-02T00:10:00Z', { channelId: 'ios' }),
  ev('u3', 'd1', '2026-03-02T08:00:00Z'),
  ev('u3', 'd2', '2026-03-02T08:00:05Z'),
  ev('u3', 'e1', '2026-03-02T12:00:00Z', { name: 'purchase', value: 7.25 }),
];

/**
 * The hand-computed answer for each day (avg durations: (60 + 660 + 0) / 3
 * and (5 + 0) / 2; c1 is a purchase, so engaged). The first day's values,
 * 0.1 and 0.2 in two closed sessions, have no exact float8 sum: the view
 * and engagementStats must still agree to the bit.
 */
const EXPECTED_DAYS = [
  { day: '2026-03-01', sessions: 3, users: 2, events: 6, avg: 240, bounce: 1 / 3, engaged: 1, conversion: 2 / 3, value: 0.3 },
  { day: '2026-03-02', sessions: 2, users: 1, events: 3, avg: 2.5, bounce: 1 / 2, engaged: 1, conversion: 1 / 2, value: 7.25 },
];

const STATS = `query Stats($from: DateTime, $to: DateTime) { engagementStats(from: $from, to: $to) {
  sessions users events avgDurationSeconds bounceRate engagementRate conversionRate totalValue } }`;

describe('the analytics schema for BI tools', () => {
  let db: TestDatabase;
  let server: TestServer;
  let reader: ReaderConnection;
  let dropLogin: () => Promise<void> = async () => undefined;

  /** A LOGIN role in sessions_reader on the Postgres server, or SET ROLE on embedded PGlite (no second login there). */
  async function connectReader(): Promise<ReaderConnection> {
    if (db.url === null) {
      const prisma = server.service.database.prisma;
      return {
        query: <T,>(sql: string) =>
          prisma.$transaction(async (tx) => {
            await tx.$executeRawUnsafe('SET LOCAL ROLE sessions_reader');
            return tx.$queryRawUnsafe<T[]>(sql);
          }),
        close: async () => undefined,
      };
    }
    const login = `bi_test_${randomBytes(6).toString('hex')}`;
    const admin = new pg.Client({ connectionString: ADMIN_URL });
    await admin.connect();
    await admin.query(`CREATE ROLE ${login} LOGIN IN ROLE sessions_reader`);
    await admin.end();
    dropLogin = async () => {
      const client = new pg.Client({ connectionString: ADMIN_URL });
      await client.connect();
      await client.query(`DROP ROLE IF EXISTS ${login}`).finally(() => client.end());
    };
    const url = new URL(db.url);
    url.username = login;
    const client = new pg.Client({ connectionString: url.toString() });
    await client.connect();
    return { query: async <T,>(sql: string) => (await client.query(sql)).rows as T[], close: () => client.end() };
  }

  beforeAll(async () => {
    db = await createTestDatabase();
    server = await startTestServer(db.url, { SESSION_GAP: '30m', ALLOWED_LATENESS: '0s' });
    const result = await gqlData(server.url, INGEST, { events: EVENTS });
    expect(result['ingestEvents']).toMatchObject({ accepted: EVENTS.length, rejected: [] });
    reader = await connectReader();
  });
  afterAll(async () => {
    await reader?.close();
    await server?.stop();
    await db?.drop();
    await dropLogin();
  });

  it('daily_engagement equals the hand-computed days and engagementStats for each day', async () => {
    const rows = await reader.query<Record<string, any>>(
      `SELECT to_char(day, 'YYYY-MM-DD') AS day, definition, sessions, users, events::int AS events, avg_duration_seconds,
         bounce_rate, engagement_rate, conversion_rate, total_value FROM analytics.daily_engagement ORDER BY day`,
    );
    expect(rows.map((r) => r['day'])).toEqual(EXPECTED_DAYS.map((d) => d.day));
    for (const [i, want] of EXPECTED_DAYS.entries()) {
      const row = rows[i] as Record<string, any>;
      expect(row).toMatchObject({ definition: 'default', sessions: want.sessions, users: want.users, events: want.events });
      expect(row['total_value']).toBeCloseTo(want.value, 9);
      expect(row['avg_duration_seconds']).toBeCloseTo(want.avg, 9);
      expect(row['bounce_rate']).toBeCloseTo(want.bounce, 9);
      expect(row['engagement_rate']).toBeCloseTo(want.engaged, 9);
      expect(row['conversion_rate']).toBeCloseTo(want.conversion, 9);

      const next = new Date(Date.parse(`${want.day}T00:00:00Z`) + 86_400_000).toISOString();
      const { engagementStats: api } = await gqlData(server.url, STATS, { from: `${want.day}T00:00:00Z`, to: next });
      expect({
        sessions: row['sessions'],
        users: row['users'],
        events: row['events'],
        avgDurationSeconds: row['avg_duration_seconds'],
        bounceRate: row['bounce_rate'],
        engagementRate: row['engagement_rate'],
        conversionRate: row['conversion_rate'],
        totalValue: row['total_value'],
      }).toEqual(api);
    }
  });

  it('sessions, session_event_counts and session_channels answer one row per session, name and channel', async () => {
    const sessions = await reader.query<Record<string, any>>(
      `SELECT user_id, status, event_count, duration_seconds, total_value, converted, engaged, bounced, top_channel,
         first_event_name, last_event_name, definition, started_at FROM analytics.sessions ORDER BY started_at`,
    );
    expect(sessions.map((s) => [s['user_id'], s['event_count'], s['duration_seconds'], s['top_channel']])).toEqual([
      ['u1', 3, 60, 'web'],
      ['u1', 1, 0, null],
      ['u2', 2, 660, 'ios'],
      ['u3', 2, 5, null],
      ['u3', 1, 0, null],
    ]);
    expect(sessions[0]).toMatchObject({ converted: true, engaged: true, bounced: false, first_event_name: 'page_view', last_event_name: 'click' });
    expect(new Set(sessions.map((s) => s['definition']))).toEqual(new Set(['default']));

    const counts = await reader.query<Record<string, any>>(
      `SELECT s.user_id, c.name, c.count FROM analytics.session_event_counts c JOIN analytics.sessions s ON s.id = c.session_id
       WHERE s.user_id = 'u1' AND s.event_count = 3 ORDER BY c.name`,
    );
    expect(counts.map((c) => [c['name'], c['count']])).toEqual([
      ['click', 1],
      ['page_view', 1],
      ['purchase', 1],
    ]);
    const channels = await reader.query<Record<string, any>>(
      `SELECT s.user_id, c.channel_id, c.count FROM analytics.session_channels c JOIN analytics.sessions s ON s.id = c.session_id
       ORDER BY s.user_id, c.channel_id`,
    );
    expect(channels.map((c) => [c['user_id'], c['channel_id'], c['count']])).toEqual([
      ['u1', 'ios', 1],
      ['u1', 'web', 2],
      ['u2', 'ios', 2],
    ]);
  });

  it('cannot read the tables underneath nor write or create anything', async () => {
    const refused = async (sql: string): Promise<string> => {
      const error = await reader.query(sql).then(
        () => null,
        (e: unknown) => e as { code?: string; message?: string },
      );
      expect(error, sql).not.toBeNull();
      return `${error?.code ?? ''} ${error?.message ?? ''}`;
    };
    for (const sql of [
      'SELECT count(*) FROM public.events',
      'SELECT count(*) FROM public.sessions',
      'SELECT count(*) FROM public.service_state',
      `INSERT INTO public.events (event_id, user_id, name, ts) VALUES ('x', 'x', 'x', now())`,
      `UPDATE public.sessions SET total_value = 0`,
      'DELETE FROM public.events',
      `INSERT INTO analytics.sessions (id) VALUES (gen_random_uuid())`,
      'DELETE FROM analytics.sessions',
      'CREATE TABLE public.bi_scratch (x int)',
      'CREATE TABLE analytics.bi_scratch (x int)',
      'CREATE VIEW analytics.bi_view AS SELECT 1',
      'CREATE SCHEMA bi_schema',
    ]) {
      // 42501: insufficient_privilege (the driver adapter may wrap it; its message says so too).
      expect(await refused(sql), sql).toMatch(/42501|permission denied/);
    }
    const events = await server.service.database.prisma.$queryRawUnsafe<Array<{ n: number }>>('SELECT count(*)::int AS n FROM events');
    expect(events[0]?.n).toBe(EVENTS.length);
  });
});
