/**
 * Reading sessions back for the core (snapshots: restart, corrections, resume
 * of sessionClosed) and the API view of a snapshot. The writer's SQL is in
 * session-writes.ts.
 */
import { DEFAULT_DEFINITION } from '../definitions/definitions.ts';
import { setOwn } from '../sessionizer/snapshot.ts';
import type { ChannelStat, SessionSnapshot } from '../sessionizer/types.ts';
import type { Db, UserRange } from './event-store.ts';
import { pgArray } from './pg-array.ts';
import type { AttributionRow, SessionView, StoredChannel } from './session-view.ts';
import { ATTRIBUTION_COLUMNS, attributionFromRow, attributionView, channelList, eventCountList } from './session-view.ts';

export const MS = (column: string): string => `(extract(epoch FROM ${column}) * 1000)::float8`;
/** SQL for a timestamptz from an expression in ms since the epoch. */
export const TS = (expr: string): string => `(timestamptz 'epoch' + (${expr})::bigint * interval '1 millisecond')`;

/** The definition's name from sessions.definition (a build key: the name, then `#n` for the n-th rebuild). */
export const DEFINITION_NAME_SQL = `split_part(definition, '#', 1)`;

/** Session columns read back into a snapshot (times as ms numbers). */
const SNAPSHOT_COLUMNS = `id::text AS id, user_id, status::text AS status,
  ${MS('started_at')} AS started_at, ${MS('ended_at')} AS ended_at, event_count, event_counts, channels,
  top_channel, total_value, converted, engaged, bounced, first_event_name, first_event_id,
  last_event_name, last_event_id, started_by_cut, close_reason::text AS close_reason,
  ${MS('closed_at')} AS closed_at, version, close_seq::text AS close_seq, ${ATTRIBUTION_COLUMNS},
  ${DEFINITION_NAME_SQL} AS definition_name`;

/** SQL condition: the row belongs to the build the API shows of the definition named by parameter `param`. */
export const activeBuildOf = (param: string): string =>
  `definition = (SELECT d.active_key FROM session_definitions d WHERE d.name = ${param})`;

/** SQL condition: the row belongs to the build the API shows of some definition. */
export const IN_ACTIVE_BUILD = `definition IN (SELECT d.active_key FROM session_definitions d WHERE d.active_key IS NOT NULL)`;

interface SnapshotRow extends AttributionRow {
  id: string;
  user_id: string;
  status: 'OPEN' | 'CLOSED';
  started_at: number;
  ended_at: number;
  event_count: number;
  event_counts: Record<string, number>;
  channels: StoredChannel[];
  top_channel: string | null;
  total_value: number;
  converted: boolean;
  engaged: boolean;
  bounced: boolean;
  first_event_name: string;
  first_event_id: string;
  last_event_name: string;
  last_event_id: string;
  started_by_cut: boolean;
  close_reason: 'INACTIVITY' | 'MAX_DURATION' | 'FLUSH' | null;
  closed_at: number | null;
  version: number;
  close_seq: string | null;
  definition_name: string;
}

/** Stored channels (first-seen order) from a snapshot's channel map. */
export function storedChannels(channels: Readonly<Record<string, ChannelStat>>): StoredChannel[] {
  return Object.entries(channels)
    .map(([channelId, c]) => ({ channelId, count: c.count, firstAt: c.firstAt, firstEventId: c.firstEventId }))
    .sort((a, b) => a.firstAt - b.firstAt || (a.firstEventId < b.firstEventId ? -1 : a.firstEventId > b.firstEventId ? 1 : 0));
}

function snapshotFromRow(row: SnapshotRow, gapMs: number): SessionSnapshot & { closeSeq: string | null; definition: string } {
  const startedAt = Math.round(row.started_at);
  const endedAt = Math.round(row.ended_at);
  const channels: Record<string, ChannelStat> = {};
  for (const c of row.channels) setOwn(channels, c.channelId, { count: c.count, firstAt: c.firstAt, firstEventId: c.firstEventId });
  return {
    id: row.id,
    userId: row.user_id,
    status: row.status,
    startedAt,
    endedAt,
    closesAt: endedAt + gapMs,
    durationMs: endedAt - startedAt,
    eventCount: row.event_count,
    eventCounts: row.event_counts,
    channels,
    topChannel: row.top_channel,
    totalValue: row.total_value,
    converted: row.converted,
    engaged: row.engaged,
    bounced: row.bounced,
    firstEventName: row.first_event_name,
    firstEventId: row.first_event_id,
    lastEventName: row.last_event_name,
    lastEventId: row.last_event_id,
    startedByCut: row.started_by_cut,
    closeReason: row.close_reason,
    closedAt: row.closed_at === null ? null : Math.round(row.closed_at),
    version: row.version,
    attribution: attributionFromRow(row),
    closeSeq: row.close_seq,
    definition: row.definition_name,
  };
}

/** The API view of a snapshot of the named definition; closeCursor comes from the stored row. */
export function viewFromSnapshot(s: SessionSnapshot, closeSeq: string | null, definition: string): SessionView {
  const channels = storedChannels(s.channels);
  return {
    id: s.id,
    definition,
    userId: s.userId,
    status: s.status,
    startedAt: s.startedAt,
    endedAt: s.endedAt,
    closesAt: s.closesAt,
    durationSeconds: s.durationMs / 1000,
    eventCount: s.eventCount,
    eventCounts: eventCountList(s.eventCounts),
    channels: channelList(channels),
    topChannel: s.topChannel,
    totalValue: s.totalValue,
    converted: s.converted,
    engaged: s.engaged,
    bounced: s.bounced,
    firstEventName: s.firstEventName,
    lastEventName: s.lastEventName,
    closeReason: s.closeReason,
    closedAt: s.closedAt,
    version: s.version,
    closeCursor: closeSeq,
    ...attributionView(s.attribution),
  };
}

/** Deletes sessions merged away by a correction; returns their stored users and starts (ms). */
export async function deleteSessions(db: Db, ids: readonly string[]): Promise<Array<{ userId: string; startedAt: number }>> {
  if (ids.length === 0) return [];
  const rows = await db.$queryRawUnsafe<Array<{ user_id: string; started_at: number }>>(
    `DELETE FROM sessions WHERE id = ANY(ARRAY(SELECT jsonb_array_elements_text($1::jsonb))::uuid[])
     RETURNING user_id, ${MS('started_at')} AS started_at`,
    JSON.stringify(ids),
  );
  return rows.map((r) => ({ userId: r.user_id, startedAt: Number(r.started_at) }));
}

/**
 * Stored sessions overlapping each user's range (startedAt <= toTs, endedAt
 * >= fromTs; one range per user, as corrections ask), in one statement: one
 * lookup per range on the (user_id, definition, started_at) index, whatever
 * the planner's statistics. Without the OFFSET 0 fence (see loadRangeEvents)
 * stale statistics made it scan a whole definition once per range: 140 ms
 * for 150 users among 14,000 sessions.
 */
export async function loadRangeSessions(
  db: Db,
  ranges: readonly UserRange[],
  gapMs: number,
  definitionKey: string = DEFAULT_DEFINITION,
): Promise<Map<string, SessionSnapshot[]>> {
  const out = new Map<string, SessionSnapshot[]>();
  if (ranges.length === 0) return out;
  const rows = await db.$queryRawUnsafe<SnapshotRow[]>(
    `SELECT s.* FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS r(u, lo, hi)
     CROSS JOIN LATERAL (
       SELECT ${SNAPSHOT_COLUMNS} FROM sessions
       WHERE sessions.user_id = r.u AND sessions.definition = $4
         AND sessions.started_at <= ${TS('r.hi')} AND sessions.ended_at >= ${TS('r.lo')}
       OFFSET 0) AS s
     ORDER BY s.user_id, s.started_at, s.id`,
    pgArray(ranges.map((r) => r.userId)),
    pgArray(ranges.map((r) => Math.floor(r.fromTs))),
    pgArray(ranges.map((r) => Math.ceil(r.toTs))),
    definitionKey,
  );
  for (const row of rows) {
    const snapshot = snapshotFromRow(row, gapMs);
    const list = out.get(snapshot.userId);
    if (list === undefined) out.set(snapshot.userId, [snapshot]);
    else list.push(snapshot);
  }
  return out;
}

/** The SQL condition and parameter that keep the rows of some partitions only (none: every row). */
function inPartitions(partitions: readonly number[] | null, param: number): { sql: string; params: string[] } {
  if (partitions === null) return { sql: '', params: [] };
  return { sql: `AND partition = ANY($${param}::int[])`, params: [`{${partitions.join(',')}}`] };
}

/** Every OPEN session of one definition build (restart), oldest first; of the given partitions only, unless null. */
export async function loadOpenSessions(
  db: Db,
  gapMs: number,
  partitions: readonly number[] | null = null,
  definitionKey: string = DEFAULT_DEFINITION,
): Promise<SessionSnapshot[]> {
  const only = inPartitions(partitions, 2);
  const rows = await db.$queryRawUnsafe<SnapshotRow[]>(
    `SELECT ${SNAPSHOT_COLUMNS} FROM sessions WHERE status = 'OPEN' AND definition = $1 ${only.sql} ORDER BY started_at, id`,
    definitionKey,
    ...only.params,
  );
  return rows.map((r) => snapshotFromRow(r, gapMs));
}

/**
 * Per user with OPEN sessions of one definition build (of the given
 * partitions only, unless null), when they were last written (updated_at,
 * ms): every write of an OPEN session is the commit of an event of its user,
 * so this is when the store last received one. A restart, or a reload when
 * partitions change owner, starts the user's quiet timer from it, not anew
 * (DESIGN.md: a session closes once no event of its user has been received
 * for GAP + ALLOWED_LATENESS).
 */
export async function loadLastWrites(
  db: Db,
  partitions: readonly number[] | null = null,
  definitionKey: string = DEFAULT_DEFINITION,
): Promise<Map<string, number>> {
  const only = inPartitions(partitions, 2);
  const rows = await db.$queryRawUnsafe<Array<{ user_id: string; written: number }>>(
    `SELECT user_id, ${MS('max(updated_at)')} AS written FROM sessions
     WHERE status = 'OPEN' AND definition = $1 ${only.sql} GROUP BY user_id`,
    definitionKey,
    ...only.params,
  );
  return new Map(rows.map((r) => [r.user_id, Number(r.written)]));
}

/**
 * Per user, the latest end of a session closed by FLUSH or by its quiet timer
 * that the watermark has not yet passed: such sessions can still be joined by
 * an event that is not late by the watermark, so the core must know them.
 */
export async function loadClosedFrontiers(
  db: Db,
  watermark: number,
  gapMs: number,
  maxDurationMs: number,
  partitions: readonly number[] | null = null,
  definitionKey: string = DEFAULT_DEFINITION,
): Promise<Map<string, number>> {
  const bounded = Number.isFinite(watermark);
  const only = inPartitions(partitions, bounded ? 4 : 2);
  const since = Math.round(watermark - gapMs);
  // started_at > ended_at - maxDuration = closes_at - gap - maxDuration: the
  // same bound on started_at lets Postgres range-scan sessions_started_idx
  // instead of reading every session at each restart.
  const rows = await db.$queryRawUnsafe<Array<{ user_id: string; frontier: number }>>(
    `SELECT user_id, ${MS('max(ended_at)')} AS frontier FROM sessions
     WHERE status = 'CLOSED' AND close_reason <> 'MAX_DURATION' AND definition = $1
       ${bounded ? `AND closes_at >= ${TS('$2')} AND started_at >= ${TS('$3')}` : ''} ${only.sql}
     GROUP BY user_id`,
    definitionKey,
    ...(bounded ? [since, since - gapMs - maxDurationMs] : []),
    ...only.params,
  );
  return new Map(rows.map((r) => [r.user_id, Math.round(r.frontier)]));
}

/**
 * Closed sessions committed after `cursor`, in commit order (sessionClosed
 * resume), of the definition named `definition` (null: of every definition),
 * in the build the API shows. The ORDER BY names the table's column: a bare
 * `close_seq` would be the text output column, which sorts "100" before "99".
 * `gapOf` gives each definition's gap (closesAt).
 */
export async function loadClosedAfter(
  db: Db,
  cursor: bigint,
  definition: string | null,
  userId: string | null,
  limit: number,
  gapOf: (definition: string) => number,
): Promise<SessionView[]> {
  const params: unknown[] = [cursor.toString(), limit];
  const param = (value: unknown): string => {
    params.push(value);
    return `$${params.length}`;
  };
  const conditions = [definition === null ? IN_ACTIVE_BUILD : activeBuildOf(param(definition))];
  if (userId !== null) conditions.push(`user_id = ${param(userId)}`);
  const rows = await db.$queryRawUnsafe<SnapshotRow[]>(
    `SELECT ${SNAPSHOT_COLUMNS} FROM sessions
     WHERE close_seq > $1::bigint AND ${conditions.join(' AND ')}
     ORDER BY sessions.close_seq LIMIT $2`,
    ...params,
  );
  return rows.map((r) => {
    const snapshot = snapshotFromRow(r, gapOf(r.definition_name));
    return viewFromSnapshot(snapshot, snapshot.closeSeq, snapshot.definition);
  });
}

/** Service-wide state kept across restarts. */
export async function loadServiceState(db: Db): Promise<{ maxEventTs: number | null }> {
  const rows = await db.$queryRawUnsafe<Array<{ max_event_ts: string | null }>>(
    `SELECT (SELECT max_event_ts::text FROM service_state WHERE id = 1) AS max_event_ts`,
  );
  const value = rows[0]?.max_event_ts;
  return { maxEventTs: value === null || value === undefined ? null : Number(value) };
}

/** The API views of the given sessions (those that still exist), for announcements read back from the store. */
export async function loadViewsByIds(db: Db, ids: readonly string[], gapOf: (definition: string) => number): Promise<SessionView[]> {
  if (ids.length === 0) return [];
  const rows = await db.$queryRawUnsafe<SnapshotRow[]>(
    `SELECT ${SNAPSHOT_COLUMNS} FROM sessions WHERE id = ANY(ARRAY(SELECT jsonb_array_elements_text($1::jsonb))::uuid[])`,
    JSON.stringify(ids),
  );
  return rows.map((r) => {
    const snapshot = snapshotFromRow(r, gapOf(r.definition_name));
    return viewFromSnapshot(snapshot, snapshot.closeSeq, snapshot.definition);
  });
}

/** The newest close cursor handed out so far ("0" when none): where a new live feed of closures starts. */
export async function loadLastCloseSeq(db: Db): Promise<bigint> {
  const rows = await db.$queryRawUnsafe<Array<{ seq: string | null }>>(`SELECT max(close_seq)::text AS seq FROM sessions`);
  return BigInt(rows[0]?.seq ?? '0');
}
