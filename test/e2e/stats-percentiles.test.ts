// engagementStats over thousands of sessions with ties and zeros: the median
// and p90 (one sort of the range's durations, which also counts the distinct
// users when the sums come from the rollup) equal Postgres's own
// percentile_cont and count(DISTINCT) over the stored sessions, for ranges
// read through the rollup and one inside an hour (read from the facts alone).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { INGEST } from '../helpers/events.ts';
import { gqlData } from '../helpers/graphql.ts';
import { rng } from '../helpers/random.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

const HOUR = 3_600_000;
const MINUTE = 60_000;

describe('percentiles by windows', () => {
  let db: TestDatabase;
  let server: TestServer;
  let base: number;

  beforeAll(async () => {
    db = await createTestDatabase();
    server = await startTestServer(db.url, { SESSION_GAP: '5m', ALLOWED_LATENESS: '0s' });
    // Six hours of sessions two days ago: single events (duration 0), whole
    // seconds (ties) and milliseconds; then one event now, whose watermark closes them all.
    base = Math.floor((Date.now() - 2 * 24 * HOUR) / HOUR) * HOUR + 17 * MINUTE;
    const random = rng(4242);
    const events: Array<Record<string, unknown>> = [];
    for (let user = 0; user < 1_500; user++) {
      let ts = base + Math.floor(random() * 6 * HOUR);
      for (let session = 0; session < 3; session++) {
        const kind = random();
        const count = kind < 0.3 ? 1 : 2 + Math.floor(random() * 4);
        for (let i = 0; i < count; i++) {
          events.push({ eventId: `p-${user}-${session}-${i}`, userId: `p-user-${user}`, name: 'page_view', timestamp: new Date(ts).toISOString() });
          ts += kind < 0.65 ? 1_000 * (1 + Math.floor(random() * 20)) : 1 + Math.floor(random() * 90_000);
        }
        ts += 10 * MINUTE + Math.floor(random() * HOUR);
      }
    }
    events.push({ eventId: 'p-now', userId: 'p-now', name: 'page_view', timestamp: new Date().toISOString() });
    for (let i = 0; i < events.length; i += 1_000) {
      const batch = events.slice(i, i + 1_000);
      expect((await gqlData(server.url, INGEST, { events: batch }))['ingestEvents']).toMatchObject({ accepted: batch.length, rejected: [] });
    }
  });
  afterAll(async () => {
    await server?.stop();
    await db?.drop();
  });

  /** percentile_cont and distinct users of the stored sessions started in [from, to), in SQL. */
  async function direct(from: number | null, to: number | null): Promise<{ pct: number[]; users: number; sessions: number }> {
    const rows = await server.service.database.prisma.$queryRawUnsafe<Array<{ pct: number[]; users: number; sessions: number }>>(
      `SELECT percentile_cont(ARRAY[0.5, 0.9]::float8[]) WITHIN GROUP (ORDER BY duration_seconds) AS pct,
         count(DISTINCT user_id)::int AS users, count(*)::int AS sessions
       FROM sessions WHERE ($1::timestamptz IS NULL OR started_at >= $1::timestamptz) AND ($2::timestamptz IS NULL OR started_at < $2::timestamptz)`,
      from === null ? null : new Date(from).toISOString(),
      to === null ? null : new Date(to).toISOString(),
    );
    return rows[0] as { pct: number[]; users: number; sessions: number };
  }

  it.each([
    ['every session', null, null],
    ['a range with partial hours at both ends', 40 * MINUTE, 5 * HOUR + 3 * MINUTE],
    ['a range inside one hour', 5 * MINUTE, 55 * MINUTE],
  ] as const)('%s: the median, p90 and users equal percentile_cont and count(DISTINCT) over the stored sessions', async (_name, from, to) => {
    const range = { from: from === null ? null : base + from, to: to === null ? null : base + to };
    const expected = await direct(range.from, range.to);
    expect(expected.sessions).toBeGreaterThan(from === 5 * MINUTE ? 50 : 1_000);
    const data = await gqlData(
      server.url,
      `query($from: DateTime, $to: DateTime) { engagementStats(from: $from, to: $to) { sessions users medianDurationSeconds p90DurationSeconds } }`,
      { from: range.from === null ? null : new Date(range.from).toISOString(), to: range.to === null ? null : new Date(range.to).toISOString() },
    );
    expect(data['engagementStats']).toEqual({
      sessions: expected.sessions,
      users: expected.users,
      medianDurationSeconds: expected.pct[0],
      p90DurationSeconds: expected.pct[1],
    });
  });
});
