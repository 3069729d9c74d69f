import type { PrismaClient } from '../generated/prisma/client.ts';
import { CodedError, ErrorCode } from '../errors.ts';
import { pgArray } from './pg-array.ts';
import type { TimeRange } from './session-reader.ts';

/** The sessions an aggregate reads: those of one definition (its active build) started in a range. */
export interface StatsScope extends TimeRange {
  /** Name of the session definition. */
  readonly definition: string;
}

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

/** Dimensions of `breakdown` and the sessions column of each. */
export const DIMENSION_COLUMNS = {
  CHANNEL: 'top_channel',
  CHANNEL_GROUP: 'channel_group',
  UTM_SOURCE: 'utm_source',
  UTM_MEDIUM: 'utm_medium',
  UTM_CAMPAIGN: 'utm_campaign',
  REFERRER_DOMAIN: 'referrer_domain',
  ENTRY_URL: 'entry_url',
  EXIT_URL: 'exit_url',
} as const;
export type Dimension = keyof typeof DIMENSION_COLUMNS;

/** One row of `breakdown`: the engagement of the sessions with one value (null: without one). */
export interface BreakdownRow extends Omit<EngagementBucket, 'start'> {
  value: string | null;
}
export type UserRanking = 'SESSIONS' | 'VALUE' | 'EVENTS';

/** date_trunc units of the intervals. */
const INTERVAL_UNITS: Record<Interval, string> = { HOUR: 'hour', DAY: 'day', WEEK: 'week' };
/** ORDER BY columns of the rankings. */
const USER_ORDERS: Record<UserRanking, string> = { SESSIONS: 'sessions', VALUE: '"totalValue"', EVENTS: 'events' };

/** A scope's WHERE clause and its parameters (whereClause). */
interface Where {
  sql: string;
  params: unknown[];
  /** The condition on a session that is its user's first in the range. */
  firstOfUser: string;
  /** The parameters holding the range's bounds ('' for an unbounded side). */
  fromAt: string;
  toAt: string;
}

/** The condition on a session that is its user's first since `start` (an SQL timestamptz). */
const firstSince = (start: string): string => `(prev_started_at IS NULL OR prev_started_at < ${start})`;

/**
 * Builds `WHERE` conditions on the definition, startedAt (and userId) with
 * numbered parameters, and `firstOfUser`: the condition on a session that is
 * its user's first in the range (its previous session started before the
 * range, or there is none). Counting those counts distinct users without
 * hashing user ids (sessions.prev_started_at): a month of 250k sessions,
 * 350 -> 205-275 ms on a slow machine. `key` is the definition's active
 * build (StatsReader.activeKey), a value the planner can estimate: with the
 * lookup inside the statement it guessed 5,000 rows and never read a range
 * with parallel workers.
 */
function whereClause(key: string | null, range: TimeRange, userId: string | null = null): Where {
  const params: unknown[] = [key];
  const conditions: string[] = ['definition = $1::text'];
  let firstOfUser = 'prev_started_at IS NULL';
  let fromAt = '';
  let toAt = '';
  if (range.from !== null) {
    params.push(new Date(range.from).toISOString());
    fromAt = `$${params.length}::timestamptz`;
    conditions.push(`started_at >= ${fromAt}`);
    firstOfUser = firstSince(fromAt);
  }
  if (range.to !== null) {
    params.push(new Date(range.to).toISOString());
    toAt = `$${params.length}::timestamptz`;
    conditions.push(`started_at < ${toAt}`);
  }
  if (userId !== null) {
    params.push(userId);
    conditions.push(`user_id = $${params.length}`);
  }
  return { sql: conditions.length === 0 ? '' : `WHERE ${conditions.join(' AND ')}`, params, firstOfUser, fromAt, toAt };
}

/**
 * `select` over the sessions of a scope: the CLOSED ones from session_facts
 * (narrow rows: a month of them stays in shared buffers), the OPEN ones from
 * sessions (few, by its status index), as a UNION ALL in which each part is
 * planned and aggregated on its own; a scope with a user reads sessions
 * alone, by the user's index.
 */
function rangeParts(where: { sql: string }, userId: string | null, select: string, groupBy = ''): string {
  if (userId !== null) return `SELECT ${select} FROM sessions ${where.sql} ${groupBy}`;
  return `SELECT ${select} FROM session_facts ${where.sql} ${groupBy}
    UNION ALL
    ${openPart(where, select, groupBy)}`;
}

/** `select` over the OPEN sessions of a scope (the part of every range that is not in session_facts). */
function openPart(where: { sql: string }, select: string, groupBy = ''): string {
  return `SELECT ${select} FROM sessions ${where.sql} AND status = 'OPEN' ${groupBy}`;
}

/** The sums of one part of a group (rangeParts); `users` is the condition on a user's first session in the group. */
const partSums = (users: string): string => `count(*) AS n, count(*) FILTER (WHERE ${users}) AS users, sum(event_count) AS events,
  sum(duration_seconds) AS duration, sum(bounced::int) AS bounced, sum(engaged::int) AS engaged,
  sum(converted::int) AS converted, sum(total_value) AS value`;

/** The metrics of a group from its parts' sums (partSums); rates are over sessions, zeros when there are none. */
const COMBINED_METRICS = `coalesce(sum(n), 0)::int AS sessions, coalesce(sum(users), 0)::int AS users,
  coalesce(sum(events), 0)::float8 AS events,
  coalesce(sum(duration) / nullif(sum(n), 0), 0)::float8 AS "avgDurationSeconds",
  coalesce(sum(events)::float8 / nullif(sum(n), 0), 0)::float8 AS "avgEventsPerSession",
  coalesce(sum(bounced)::float8 / nullif(sum(n), 0), 0)::float8 AS "bounceRate",
  coalesce(sum(engaged)::float8 / nullif(sum(n), 0), 0)::float8 AS "engagementRate",
  coalesce(sum(converted)::float8 / nullif(sum(n), 0), 0)::float8 AS "conversionRate",
  coalesce(sum(value), 0)::float8 AS "totalValue"`;

const HOUR_MS = 3_600_000;

/** The metrics of a bucket without sessions. */
const EMPTY_BUCKET: Omit<EngagementBucket, 'start'> = {
  sessions: 0,
  users: 0,
  events: 0,
  avgDurationSeconds: 0,
  bounceRate: 0,
  engagementRate: 0,
  conversionRate: 0,
  totalValue: 0,
};

/** The sums of a part from session_hours (the rollup): users are counted by the facts' part (usersOnly). */
const ROLLUP_SUMS = `sum(sessions) AS n, 0 AS users, sum(events) AS events, sum(duration_seconds) AS duration,
  sum(bounced) AS bounced, sum(engaged) AS engaged, sum(converted) AS converted, sum(total_value) AS value`;

/** A part that only counts users (the sessions it reads are summed by the rollup and edge parts). */
const usersOnly = (users: string): string => `0 AS n, count(*) FILTER (WHERE ${users}) AS users, 0 AS events, 0 AS duration,
  0 AS bounced, 0 AS engaged, 0 AS converted, 0 AS value`;

/**
 * Splits a scope at whole UTC hours: `hours`, the conditions on a rollup
 * row's hour for the whole hours inside the range (an unbounded side stays
 * unbounded), and `edges`, the conditions on the facts' started_at for the
 * partial hours before and after them; their parameters go to `where`. Null
 * when the range holds no whole hour (it is read from the facts alone).
 */
function splitAtHours(where: Where, range: TimeRange): { hours: string; edges: string[] } | null {
  const first = range.from === null ? null : Math.ceil(range.from / HOUR_MS) * HOUR_MS;
  const end = range.to === null ? null : Math.floor(range.to / HOUR_MS) * HOUR_MS;
  if (first !== null && end !== null && first >= end) return null;
  const param = (ms: number) => {
    where.params.push(new Date(ms).toISOString());
    return `$${where.params.length}::timestamptz`;
  };
  const hours = ['definition = $1::text'];
  const edges: string[] = [];
  if (first !== null) {
    const at = param(first);
    hours.push(`hour >= ${at}`);
    edges.push(`definition = $1::text AND started_at >= ${where.fromAt} AND started_at < ${at}`);
  }
  if (end !== null) {
    const at = param(end);
    hours.push(`hour < ${at}`);
    edges.push(`definition = $1::text AND started_at >= ${at} AND started_at < ${where.toAt}`);
  }
  return { hours: hours.join(' AND '), edges };
}

/**
 * The buckets of engagementSeries, as parts of one statement: `key` of a
 * time column is its bucket's number (width_bucket over the starts, for the
 * few rows of the rollup, the edges and the OPEN sessions), and `facts`
 * reads the scope's facts bucket by bucket, one index range each, with
 * `select` given where the bucket's part of the range starts (the first
 * bucket may start before `from`): a month of 250k facts by DAY, 100 -> 80
 * ms against a width_bucket per row and a grouping.
 */
interface Buckets {
  key(column: string): string;
  facts(select: (start: string) => string): string;
}

function seriesBuckets(where: Where, list: string): Buckets {
  return {
    key: (column) => `width_bucket(${column}, ${list})`,
    facts: (select) => `SELECT b.i, f.* FROM unnest(${list}) WITH ORDINALITY AS b(start, i)
      CROSS JOIN LATERAL (
        SELECT ${select(`greatest(b.start, ${where.fromAt})`)} FROM session_facts
        WHERE definition = $1::text AND started_at >= greatest(b.start, ${where.fromAt})
          AND started_at < least(coalesce((${list})[b.i + 1], ${where.toAt}), ${where.toAt})
      ) AS f`,
  };
}

/**
 * The parts of a scope's sums read through the rollup (session_hours): its
 * whole hours from the rollup, the partial hours at its edges from
 * session_facts, the OPEN sessions from sessions, and the distinct users from
 * one pass over the scope's facts (a count: see whereClause), unless
 * `users` is false (every part then counts 0 users). With `buckets`, each
 * part is per bucket (engagementSeries). Null when the scope has no whole
 * hour.
 */
function rollupParts(where: Where, range: TimeRange, buckets: Buckets | null, users = true): string | null {
  const split = splitAtHours(where, range);
  if (split === null) return null;
  const key = (column: string) => (buckets === null ? '' : `${buckets.key(column)} AS i, `);
  const groupBy = buckets === null ? '' : 'GROUP BY 1';
  const parts = [
    `SELECT ${key('hour')}${ROLLUP_SUMS} FROM session_hours WHERE ${split.hours} ${groupBy}`,
    ...split.edges.map((edge) => `SELECT ${key('started_at')}${partSums('false')} FROM session_facts WHERE ${edge} ${groupBy}`),
    openPart(where, `${key('started_at')}${partSums(users ? where.firstOfUser : 'false')}`, groupBy),
  ];
  if (users) {
    parts.push(
      buckets === null ? `SELECT ${usersOnly(where.firstOfUser)} FROM session_facts ${where.sql}` : buckets.facts((start) => usersOnly(firstSince(start))),
    );
  }
  return parts.join('\n    UNION ALL\n    ');
}

// The metrics of a breakdown row (a group that is not a time range, so users
// is a count(DISTINCT)). Rates are over sessions; an empty range answers
// zeros rather than nulls. Distinct users compare bytes (COLLATE "C":
// equality is the same under any deterministic collation, and the sort skips
// strcoll).
const BREAKDOWN_METRICS = `
  count(*)::int AS sessions,
  count(DISTINCT user_id COLLATE "C")::int AS users,
  coalesce(sum(event_count), 0)::float8 AS events,
  coalesce(avg(duration_seconds), 0)::float8 AS "avgDurationSeconds",
  coalesce(avg(bounced::int), 0)::float8 AS "bounceRate",
  coalesce(avg(engaged::int), 0)::float8 AS "engagementRate",
  coalesce(avg(converted::int), 0)::float8 AS "conversionRate",
  coalesce(sum(total_value), 0)::float8 AS "totalValue"`;

/**
 * Planner and executor settings for one analytics statement, local to its
 * transaction (the writer's connections keep the server defaults):
 * - work_mem: a month of sessions sorts and hashes 10-30 MB (durations for
 *   the percentiles, user ids for distinct counts); the 4 MB default spills
 *   them to temporary files.
 * - jit off: these queries cost just over jit_above_cost, and compiling
 *   added 5-15 ms to each without making it faster.
 * - random_page_cost 1.1: sessions are written in startedAt order, so a
 *   month of them is a contiguous quarter of the heap, mostly in memory; at
 *   the default 4 (spinning disks) the planner reads the whole table instead
 *   (1M sessions: 61k pages instead of 15k for one month).
 */
const ANALYTICS_SETTINGS = `SELECT set_config('work_mem', '64MB', true), set_config('jit', 'off', true),
  set_config('random_page_cost', '1.1', true)`;

/**
 * Also no parallel workers, where they cost more than they give on two
 * cores: a grouping by user (with workers, each hashed its share of the
 * month's 84k users and the partial groups were sorted and merged again;
 * Postgres has no statistics on a UNION's groups and expects 200): topUsers
 * 523-623 ms, 372-386 ms without; and engagementStats (then two
 * statements side by side: medians 198 -> 179 ms in-process, a slow
 * machine; its percentiles cannot be computed in parts, so workers would
 * only share the index scan and hand every row to one sort). topChannels
 * and engagementSeries keep them (289 vs 503 ms, 327 vs 371 ms).
 */
const SERIAL_ANALYTICS_SETTINGS = `${ANALYTICS_SETTINGS}, set_config('max_parallel_workers_per_gather', '0', true)`;

/** Analytics computed in Postgres (never by loading session rows into Node). */
export class StatsReader {
  constructor(private readonly prisma: PrismaClient) {}

  /** Runs one read-only statement with {@link ANALYTICS_SETTINGS}. */
  private async query<T>(sql: string, ...params: unknown[]): Promise<T[]> {
    return this.queryWith<T>(ANALYTICS_SETTINGS, sql, ...params);
  }

  private async queryWith<T>(settings: string, sql: string, ...params: unknown[]): Promise<T[]> {
    const [, rows] = await this.prisma.$transaction([
      this.prisma.$queryRawUnsafe(settings),
      this.prisma.$queryRawUnsafe<T[]>(sql, ...params),
    ]);
    return rows;
  }

  /**
   * engagementStats: medians and p90 are continuous percentiles (interpolated),
   * users a filtered count (whereClause). One statement, so one snapshot:
   * the counts and sums (for a range without a user, from the rollup for
   * its whole hours: rollupParts, a few ms) beside one pass over the
   * range's facts that sorts the durations for the percentiles and, through
   * the rollup, counts the distinct users. That pass is an index-only scan
   * (session_facts_started_idx carries both columns): a month of 250k
   * sessions, about 70 ms in psql. A range with a user or without a whole
   * hour reads its sums and users from the facts.
   */
  async engagementStats(range: StatsScope, userId: string | null): Promise<EngagementStats> {
    const where = whereClause(await this.activeKey(range.definition), range, userId);
    const rollup = userId === null ? rollupParts(where, range, null, false) : null;
    const rows = await this.queryWith<
      Omit<EngagementStats, 'medianDurationSeconds' | 'p90DurationSeconds' | 'sessionsPerUser'> & { pct: number[] | null; scannedUsers: number }
    >(
      SERIAL_ANALYTICS_SETTINGS,
      `SELECT totals.*, scan.* FROM
         (SELECT ${COMBINED_METRICS} FROM (${rollup ?? rangeParts(where, userId, partSums(where.firstOfUser))}) AS parts) AS totals
       CROSS JOIN
         (SELECT percentile_cont(ARRAY[0.5, 0.9]::float8[]) WITHIN GROUP (ORDER BY duration_seconds) AS pct,
            ${rollup === null ? '0' : `count(*) FILTER (WHERE ${where.firstOfUser})`}::int AS "scannedUsers"
          FROM (${rangeParts(where, userId, 'duration_seconds, prev_started_at')}) AS s) AS scan`,
      ...where.params,
    );
    const row = rows[0];
    if (row === undefined) throw new Error('aggregate query returned no row');
    const { pct, scannedUsers, ...totals } = row;
    const users = rollup === null ? totals.users : scannedUsers;
    return {
      ...totals,
      users,
      medianDurationSeconds: pct?.[0] ?? 0,
      p90DurationSeconds: pct?.[1] ?? 0,
      sessionsPerUser: users === 0 ? 0 : totals.sessions / users,
    };
  }

  /** The active build of a definition (sessions.definition), or null when it has none. */
  private async activeKey(definition: string): Promise<string | null> {
    const rows = await this.prisma.$queryRawUnsafe<Array<{ key: string | null }>>(
      `SELECT active_key AS key FROM session_definitions WHERE name = $1`,
      definition,
    );
    return rows[0]?.key ?? null;
  }

  /**
   * engagementSeries: one bucket per local hour, day or ISO week (Monday) of
   * `timeZone`, empty buckets included. Day and week buckets follow local
   * midnight, so a DST change gives a 23- or 25-hour day; hour buckets are
   * real hours aligned to local hour boundaries (a fall-back day has 25).
   */
  async engagementSeries(definition: string, from: number, to: number, interval: Interval, timeZone: string): Promise<EngagementBucket[]> {
    // Interpolated into the SQL: only the three known units may reach it, whatever the caller passed.
    if (!Object.prototype.hasOwnProperty.call(INTERVAL_UNITS, interval)) throw new Error(`unknown interval ${String(interval)}`);
    const unit = INTERVAL_UNITS[interval];
    // The bucket starts as UTC instants. Hours: real hours from the local hour that holds `from`.
    const series =
      interval === 'HOUR'
        ? `SELECT generate_series(
             (date_trunc('hour', $1::timestamptz AT TIME ZONE $3) - (($1::timestamptz AT TIME ZONE $3) - ($1::timestamptz AT TIME ZONE 'UTC'))) AT TIME ZONE 'UTC',
             $2::timestamptz - interval '1 microsecond', interval '1 hour') AS start`
        : `SELECT local AT TIME ZONE $3 AS start FROM generate_series(
             date_trunc('${unit}', $1::timestamptz AT TIME ZONE $3),
             ($2::timestamptz - interval '1 microsecond') AT TIME ZONE $3,
             interval '1 ${unit}') AS local`;
    const startRows = await this.query<{ start: Date }>(`${series} ORDER BY 1`, new Date(from).toISOString(), new Date(to).toISOString(), timeZone);
    const starts = startRows.map((row) => new Date(row.start).getTime());
    // Postgres writes a bucket before the year 1 as "... BC", which is no time here.
    if (starts.some((ms) => Number.isNaN(ms))) {
      throw new CodedError(ErrorCode.InvalidRange, 'the series would begin before the year 0001 in this time zone; start it later');
    }
    // The facts are read bucket by bucket (seriesBuckets), the few other
    // rows go to their bucket by a binary search of the starts. When every
    // bucket starts on a UTC hour (zones a whole number of hours from UTC),
    // each rollup hour lies in one bucket and the whole hours' sums come
    // from the rollup; the facts then only count distinct users.
    const range = { from, to };
    const where = whereClause(await this.activeKey(definition), range);
    where.params.push(pgArray(starts.map((ms) => new Date(ms).toISOString())));
    const list = `$${where.params.length}::timestamptz[]`;
    const buckets = seriesBuckets(where, list);
    // A user is counted in a bucket through its first session there: the one
    // whose previous session started before the bucket, or before `from`
    // in the first bucket (which may start earlier).
    where.firstOfUser = firstSince(`greatest((${list})[${buckets.key('started_at')}], ${where.fromAt})`);
    const aligned = starts.every((ms) => ms % HOUR_MS === 0);
    const parts =
      (aligned ? rollupParts(where, range, buckets) : null) ??
      `${buckets.facts((start) => partSums(firstSince(start)))}
       UNION ALL
       ${openPart(where, `${buckets.key('started_at')} AS i, ${partSums(where.firstOfUser)}`, 'GROUP BY 1')}`;
    const rows = await this.query<Omit<EngagementBucket, 'start'> & { i: number }>(
      `SELECT i, ${COMBINED_METRICS} FROM (${parts}) AS parts GROUP BY i`,
      ...where.params,
    );
    const byBucket = new Map(rows.map((row) => [Number(row.i), row]));
    return starts.map((start, index) => {
      const row = byBucket.get(index + 1);
      if (row === undefined) return { start, ...EMPTY_BUCKET };
      const { sessions, users, events, avgDurationSeconds, bounceRate, engagementRate, conversionRate, totalValue } = row;
      return { start, sessions, users, events, avgDurationSeconds, bounceRate, engagementRate, conversionRate, totalValue };
    });
  }

  /**
   * Channels ranked by the sessions they top, then by events in them: the
   * whole hours of the range from the rollup (session_hour_channels), the
   * rest from the channel lists of the sessions. A session's top channel is
   * always one of its channels, so "sessions topped" is a filtered count of
   * the same rows. The closed sessions' lists are unnested in the select list
   * (two arrays of equal length, zipped): a lateral unnest per row cost 2.5
   * times as much (a month of 250k sessions, 614 -> 232-260 ms on a slow
   * machine).
   */
  async topChannels(range: StatsScope, limit: number): Promise<Array<{ channelId: string; sessions: number; events: number }>> {
    const where = whereClause(await this.activeKey(range.definition), range);
    const split = splitAtHours(where, range);
    const facts = split === null ? [where.sql] : split.edges.map((edge) => `WHERE ${edge}`);
    const lists = [
      ...facts.map((sql) => `SELECT top_channel, unnest(channel_ids) AS "channelId", unnest(channel_counts) AS count FROM session_facts ${sql}`),
      `SELECT o.top_channel, c."channelId", c.count
       FROM sessions AS o CROSS JOIN LATERAL jsonb_to_recordset(o.channels) AS c("channelId" text, count int)
       ${where.sql} AND status = 'OPEN'`,
    ];
    const rollup =
      split === null
        ? ''
        : `SELECT channel_id AS "channelId", sum(sessions) AS sessions, sum(events) AS events
           FROM session_hour_channels WHERE ${split.hours} GROUP BY 1
           UNION ALL `;
    where.params.push(limit);
    return this.query(
      `SELECT "channelId", sum(sessions)::int AS sessions, sum(events)::int AS events
       FROM (
         ${rollup}
         SELECT c."channelId", count(*) FILTER (WHERE c."channelId" = c.top_channel) AS sessions, sum(c.count) AS events
         FROM (${lists.join(' UNION ALL ')}) AS c
         GROUP BY 1
       ) AS parts
       GROUP BY 1
       ORDER BY sessions DESC, events DESC, "channelId"
       LIMIT $${where.params.length}`,
      ...where.params,
    );
  }

  /**
   * Engagement per value of one dimension, most sessions first (ties by
   * value, sessions without a value last): one pass over the range's
   * sessions, with the metrics of engagementSeries.
   */
  async breakdown(range: StatsScope, dimension: Dimension, limit: number): Promise<BreakdownRow[]> {
    // The column is interpolated: only names from the fixed map may reach the SQL.
    if (!Object.prototype.hasOwnProperty.call(DIMENSION_COLUMNS, dimension)) throw new Error(`unknown dimension ${String(dimension)}`);
    const column = DIMENSION_COLUMNS[dimension];
    const where = whereClause(await this.activeKey(range.definition), range);
    where.params.push(limit);
    return this.query(
      `SELECT ${column} AS value, ${BREAKDOWN_METRICS}
       FROM sessions ${where.sql}
       GROUP BY 1
       ORDER BY sessions DESC, ${column} COLLATE "C" NULLS LAST
       LIMIT $${where.params.length}`,
      ...where.params,
    );
  }

  /** Users ranked by sessions, events or value (ties by userId). */
  async topUsers(
    range: StatsScope,
    by: UserRanking,
    limit: number,
  ): Promise<Array<{ userId: string; sessions: number; events: number; totalValue: number }>> {
    // Interpolated into the SQL: only the three known orders may reach it.
    if (!Object.prototype.hasOwnProperty.call(USER_ORDERS, by)) throw new Error(`unknown ranking ${String(by)}`);
    const order = USER_ORDERS[by];
    const where = whereClause(await this.activeKey(range.definition), range);
    where.params.push(limit);
    return this.queryWith(
      SERIAL_ANALYTICS_SETTINGS,
      `SELECT user_id AS "userId", count(*)::int AS sessions, sum(event_count)::float8 AS events,
              coalesce(sum(total_value), 0)::float8 AS "totalValue"
       FROM (${rangeParts(where, null, 'user_id, event_count, total_value')}) AS s
       GROUP BY user_id
       ORDER BY ${order} DESC, "userId"
       LIMIT $${where.params.length}`,
      ...where.params,
    );
  }
}
