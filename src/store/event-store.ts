import type { PrismaClient } from '../generated/prisma/client.ts';
import { ATTRIBUTION_PATHS, attributionOf, type EventAttribution } from '../sessionizer/attribution.ts';
import { pgArray } from './pg-array.ts';

/** A Prisma client or the client of an interactive transaction. */
export type Db = Pick<PrismaClient, '$queryRawUnsafe' | '$executeRawUnsafe'>;

/** An event row as the writer stores it (ts in ms since the epoch; properties as JSON text). */
export interface EventRow {
  readonly eventId: string;
  readonly userId: string;
  readonly name: string;
  readonly ts: number;
  readonly channelId: string | null;
  readonly value: number | null;
  readonly properties?: string | null;
  /** Attribution inputs from the properties (read back by loadUserEvents; the writer's events carry theirs). */
  readonly attribution?: EventAttribution | null;
  /** The properties a definition filter reads, read back by loadRangeEvents (only those paths). */
  readonly parsedProperties?: unknown;
}

/**
 * The attribution paths of the stored properties as one JSON array (null when
 * there are no properties): only what attribution reads crosses the wire.
 */
const ATTRIBUTION_SQL = `CASE WHEN properties IS NULL THEN NULL ELSE jsonb_build_array(${ATTRIBUTION_PATHS.map(
  (path) => `properties #> '{${path.join(',')}}'`,
).join(', ')}) END`;

/** The properties object of those paths again, for attributionOf (the one extraction rule). */
function attributionFromPaths(values: unknown): EventAttribution | null {
  const properties = objectFromPaths(ATTRIBUTION_PATHS, values);
  return properties === null ? null : attributionOf(properties);
}

/** An object holding `values[i]` at `paths[i]` (null values left out); null when `values` is not an array. */
function objectFromPaths(paths: readonly (readonly string[])[], values: unknown): Record<string, unknown> | null {
  if (!Array.isArray(values)) return null;
  const properties: Record<string, unknown> = {};
  paths.forEach((path, i) => {
    const value: unknown = values[i];
    if (value === null || value === undefined) return;
    let node = properties;
    for (const key of path.slice(0, -1)) {
      const child = node[key];
      node = (child !== undefined ? child : (node[key] = {})) as Record<string, unknown>;
    }
    node[path[path.length - 1] as string] = value;
  });
  return properties;
}

/**
 * Inserts events in one set-based statement (INSERT ... SELECT FROM unnest of
 * one array per column: the fastest bulk path Postgres offers short of COPY)
 * and returns the eventIds that were new. An id already stored is left alone:
 * that is what makes ingest idempotent.
 */
export async function insertEvents(db: Db, events: readonly EventRow[]): Promise<Set<string>> {
  const n = events.length;
  if (n === 0) return new Set();
  const ids = new Array<string>(n);
  const users = new Array<string>(n);
  const names = new Array<string>(n);
  const ts = new Array<number>(n);
  const channels = new Array<string | null>(n);
  const values = new Array<number | null>(n);
  // Properties are JSON already: one JSON array of them (null for none) costs a
  // join, where an array literal escaped every quote of every one (7% of the
  // service's time with Segment-like properties on every event), as
  // deleteSessions passes its ids.
  let properties = '[';
  let anyProperties = false;
  for (let i = 0; i < n; i++) {
    const e = events[i] as EventRow;
    ids[i] = e.eventId;
    users[i] = e.userId;
    names[i] = e.name;
    ts[i] = e.ts;
    channels[i] = e.channelId;
    values[i] = e.value;
    const p = e.properties ?? null;
    if (i > 0) properties += ',';
    properties += p ?? 'null';
    if (p !== null) anyProperties = true;
  }
  properties += ']';
  const rows = await db.$queryRawUnsafe<Array<{ event_id: string }>>(
    `INSERT INTO events (event_id, user_id, name, ts, channel_id, value, properties)
     SELECT x.event_id, x.user_id, x.name, timestamptz 'epoch' + x.ts * interval '1 millisecond',
            x.channel_id, x.value, nullif(x.properties, 'null'::jsonb)
     FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::float8[],
       ARRAY(SELECT p FROM jsonb_array_elements($7::jsonb) WITH ORDINALITY AS j(p, i) ORDER BY i))
       AS x(event_id, user_id, name, ts, channel_id, value, properties)
     ON CONFLICT (event_id) DO NOTHING
     RETURNING event_id`,
    pgArray(ids),
    pgArray(users),
    pgArray(names),
    pgArray(ts),
    pgArray(channels),
    pgArray(values),
    // An array of n nulls still costs its parsing; most events have no properties.
    anyProperties ? properties : '[]',
  );
  return new Set(rows.map((r) => r.event_id));
}

/** One user's time range (ms), as corrections load them. */
export interface UserRange {
  readonly userId: string;
  readonly fromTs: number;
  readonly toTs: number;
}

/**
 * Every stored event in each user's range, ordered by (ts, eventId) per user,
 * in one statement (the ranges travel as three arrays). Each range is one
 * lookup on the (user_id, ts, event_id) index: the LATERAL subquery with
 * OFFSET 0 is not flattened, so the planner cannot turn the join around and
 * scan the table once per range, which it did when its statistics were
 * stale (autovacuum off or behind: a table it believed to hold a few dozen rows).
 */
export async function loadRangeEvents(
  db: Db,
  ranges: readonly UserRange[],
  /** Property paths to read back as `parsedProperties` (what a definition filter reads); none by default. */
  propertyPaths: readonly (readonly string[])[] = [],
): Promise<Map<string, EventRow[]>> {
  const out = new Map<string, EventRow[]>();
  if (ranges.length === 0) return out;
  // Paths travel as parameters ($4, $5, ...): they come from the definitions file.
  const filterSql =
    propertyPaths.length === 0
      ? 'NULL'
      : `CASE WHEN e.properties IS NULL THEN NULL ELSE jsonb_build_array(${propertyPaths.map((_, i) => `e.properties #> $${i + 4}::text[]`).join(', ')}) END`;
  const rows = await db.$queryRawUnsafe<
    Array<{
      event_id: string;
      user_id: string;
      name: string;
      ts: number;
      channel_id: string | null;
      value: number | null;
      attribution: unknown;
      filter_values: unknown;
    }>
  >(
    `SELECT x.* FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS r(user_id, lo, hi)
     CROSS JOIN LATERAL (
       SELECT e.event_id, e.user_id, e.name, (extract(epoch FROM e.ts) * 1000)::float8 AS ts, e.channel_id, e.value,
              ${ATTRIBUTION_SQL} AS attribution, ${filterSql} AS filter_values
       FROM events e
       WHERE e.user_id = r.user_id
         AND e.ts >= timestamptz 'epoch' + r.lo * interval '1 millisecond'
         AND e.ts <= timestamptz 'epoch' + r.hi * interval '1 millisecond'
       OFFSET 0) AS x
     ORDER BY x.user_id, x.ts, x.event_id`,
    pgArray(ranges.map((r) => r.userId)),
    pgArray(ranges.map((r) => Math.floor(r.fromTs))),
    pgArray(ranges.map((r) => Math.ceil(r.toTs))),
    ...propertyPaths.map((path) => pgArray([...path])),
  );
  for (const r of rows) {
    const event: EventRow = {
      eventId: r.event_id,
      userId: r.user_id,
      name: r.name,
      ts: Math.round(r.ts),
      channelId: r.channel_id,
      value: r.value,
      attribution: attributionFromPaths(r.attribution),
      ...(propertyPaths.length === 0 ? {} : { parsedProperties: objectFromPaths(propertyPaths, r.filter_values) }),
    };
    const list = out.get(r.user_id);
    if (list === undefined) out.set(r.user_id, [event]);
    else list.push(event);
  }
  return out;
}

