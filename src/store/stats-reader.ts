import type { PrismaClient } from '../generated/prisma/client.ts';
import type { TimeRange } from './session-reader.ts';

/** Aggregate engagement over the sessions that started in a range. */
export interface EngagementStats {
  sessions: number;
  users: number;
  events: number;
  avgDurationSeconds: number;
  medianDurationSeconds: number;
  p90DurationSeconds: number;
  avgEventsPerSession: number;
  sessionsPerUser: number;
  bounceRate: number;
  engagementRate: number;
  conversionRate: number;
  totalValue: number;
}

/** One bucket of engagementSeries. `start` is the UTC instant of the local bucket start. */
export interface EngagementBucket {
  start: number;
  sessions: number;
  users: number;
  events: number;
  avgDurationSeconds: number;
  bounceRate: number;
  engagementRate: number;
  conversionRate: number;
  totalValue: number;
}

export type Interval = 'HOUR' | 'DAY' | 'WEEK';
export type UserRanking = 'SESSIONS' | 'VALUE' | 'EVENTS';

/** Builds `WHERE` conditions on startedAt (and userId) with numbered parameters. */
function whereClause(range: TimeRange, userId: string | null = null): { sql: string; params: unknown[] } {
  const conditions: string[] = [];
  const params: unknown[] = [];
  if (range.from !== null) {
    params.push(new Date(range.from).toISOString());
    conditions.push(`started_at >= $${params.length}::timestamptz`);
  }
  if (range.to !== null) {
    params.push(new Date(range.to).toISOString());
    conditions.push(`started_at < $${params.length}::timestamptz`);
  }
  if (userId !== null) {
    params.push(userId);
    conditions.push(`user_id = $${params.length}`);
  }
  return { sql: conditions.length === 0 ? '' : `WHERE ${conditions.join(' AND ')}`, params };
}

// Rates are over sessions; an empty range answers zeros rather than nulls.
const BUCKET_METRICS = `
  count(*)::int AS sessions,
  count(DISTINCT user_id)::int AS users,
  coalesce(sum(event_count), 0)::float8 AS events,
  coalesce(avg(duration_seconds), 0)::float8 AS "avgDurationSeconds",
  coalesce(avg(bounced::int), 0)::float8 AS "bounceRate",
  coalesce(avg(engaged::int), 0)::float8 AS "engagementRate",
  coalesce(avg(converted::int), 0)::float8 AS "conversionRate",
  coalesce(sum(total_value), 0)::float8 AS "totalValue"`;

/** Analytics computed in Postgres (never by loading session rows into Node). */
export class StatsReader {
  constructor(private readonly prisma: PrismaClient) {}

  /** engagementStats: medians and p90 are continuous percentiles (interpolated). */
  async engagementStats(range: TimeRange, userId: string | null): Promise<EngagementStats> {
    const where = whereClause(range, userId);
    const rows = await this.prisma.$queryRawUnsafe<EngagementStats[]>(
      `SELECT ${BUCKET_METRICS},
         coalesce(percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_seconds), 0)::float8 AS "medianDurationSeconds",
         coalesce(percentile_cont(0.9) WITHIN GROUP (ORDER BY duration_seconds), 0)::float8 AS "p90DurationSeconds",
         coalesce(avg(event_count), 0)::float8 AS "avgEventsPerSession",
         coalesce(count(*)::float8 / nullif(count(DISTINCT user_id), 0), 0)::float8 AS "sessionsPerUser"
       FROM sessions ${where.sql}`,
      ...where.params,
    );
    const row = rows[0];
    if (row === undefined) throw new Error('aggregate query returned no row');
    return row;
  }

  /**
   * engagementSeries: one bucket per local hour, day or ISO week (Monday) of
   * `timeZone`, empty buckets included. Day and week buckets follow local
   * midnight, so a DST change gives a 23- or 25-hour day; hour buckets are
   * real hours aligned to local hour boundaries (a fall-back day has 25).
   */
  async engagementSeries(from: number, to: number, interval: Interval, timeZone: string): Promise<EngagementBucket[]> {
    const unit = interval.toLowerCase();
    // Bucket start as a UTC instant, for a timestamptz expression `t`.
    const bucketOf = (t: string): string =>
      interval === 'HOUR'
        ? `(date_trunc('hour', ${t} AT TIME ZONE $3) - ((${t} AT TIME ZONE $3) - (${t} AT TIME ZONE 'UTC'))) AT TIME ZONE 'UTC'`
        : `date_trunc('${unit}', ${t} AT TIME ZONE $3) AT TIME ZONE $3`;
    const series =
      interval === 'HOUR'
        ? `SELECT generate_series(${bucketOf('$1::timestamptz')}, $2::timestamptz - interval '1 microsecond', interval '1 hour') AS start`
        : `SELECT local AT TIME ZONE $3 AS start FROM generate_series(
             date_trunc('${unit}', $1::timestamptz AT TIME ZONE $3),
             ($2::timestamptz - interval '1 microsecond') AT TIME ZONE $3,
             interval '1 ${unit}') AS local`;
    const rows = await this.prisma.$queryRawUnsafe<Array<EngagementBucket & { start: Date }>>(
      `WITH buckets AS (${series}),
       stats AS (
         SELECT ${bucketOf('started_at')} AS start, ${BUCKET_METRICS}
         FROM sessions
         WHERE started_at >= $1::timestamptz AND started_at < $2::timestamptz
         GROUP BY 1
       )
       SELECT b.start,
         coalesce(s.sessions, 0)::int AS sessions, coalesce(s.users, 0)::int AS users,
         coalesce(s.events, 0)::float8 AS events,
         coalesce(s."avgDurationSeconds", 0)::float8 AS "avgDurationSeconds",
         coalesce(s."bounceRate", 0)::float8 AS "bounceRate",
         coalesce(s."engagementRate", 0)::float8 AS "engagementRate",
         coalesce(s."conversionRate", 0)::float8 AS "conversionRate",
         coalesce(s."totalValue", 0)::float8 AS "totalValue"
       FROM buckets b LEFT JOIN stats s ON s.start = b.start
       ORDER BY b.start`,
      new Date(from).toISOString(),
      new Date(to).toISOString(),
      timeZone,
    );
    return rows.map((row) => ({ ...row, start: new Date(row.start).getTime() }));
  }

  /** Channels ranked by the sessions they top, then by events in them. */
  async topChannels(range: TimeRange, limit: number): Promise<Array<{ channelId: string; sessions: number; events: number }>> {
    const where = whereClause(range);
    where.params.push(limit);
    return this.prisma.$queryRawUnsafe(
      `WITH s AS (SELECT channels, top_channel FROM sessions ${where.sql}),
       ev AS (
         SELECT c->>'channelId' AS channel_id, sum((c->>'count')::int)::int AS events
         FROM s, jsonb_array_elements(s.channels) AS c GROUP BY 1
       ),
       top AS (SELECT top_channel AS channel_id, count(*)::int AS sessions FROM s WHERE top_channel IS NOT NULL GROUP BY 1)
       SELECT ev.channel_id AS "channelId", coalesce(top.sessions, 0)::int AS sessions, ev.events
       FROM ev LEFT JOIN top USING (channel_id)
       ORDER BY sessions DESC, events DESC, "channelId"
       LIMIT $${where.params.length}`,
      ...where.params,
    );
  }

  /** Users ranked by sessions, events or value (ties by userId). */
  async topUsers(
    range: TimeRange,
    by: UserRanking,
    limit: number,
  ): Promise<Array<{ userId: string; sessions: number; events: number; totalValue: number }>> {
    const where = whereClause(range);
    where.params.push(limit);
    const order = { SESSIONS: 'sessions', VALUE: '"totalValue"', EVENTS: 'events' }[by];
    return this.prisma.$queryRawUnsafe(
      `SELECT user_id AS "userId", count(*)::int AS sessions, sum(event_count)::float8 AS events,
              coalesce(sum(total_value), 0)::float8 AS "totalValue"
       FROM sessions ${where.sql}
       GROUP BY user_id
       ORDER BY ${order} DESC, "userId"
       LIMIT $${where.params.length}`,
      ...where.params,
    );
  }
}
