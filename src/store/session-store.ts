import { setOwn } from '../sessionizer/snapshot.ts';
import type { ChannelStat, SessionSnapshot } from '../sessionizer/types.ts';
import type { Db } from './event-store.ts';
import { pgArray, type ArrayElement } from './pg-array.ts';
import type { SessionView, StoredChannel } from './session-view.ts';
import { channelList, eventCountList } from './session-view.ts';

const MS = (column: string): string => `(extract(epoch FROM ${column}) * 1000)::float8`;
const TS = (expr: string): string => `(timestamptz 'epoch' + (${expr})::bigint * interval '1 millisecond')`;

/** Session columns read back into a snapshot (times as ms numbers). */
const SNAPSHOT_COLUMNS = `id::text AS id, user_id, status::text AS status,
  ${MS('started_at')} AS started_at, ${MS('ended_at')} AS ended_at, event_count, event_counts, channels,
  top_channel, total_value, converted, engaged, bounced, first_event_name, first_event_id,
  last_event_name, last_event_id, started_by_cut, close_reason::text AS close_reason,
  ${MS('closed_at')} AS closed_at, version, close_seq::text AS close_seq`;

interface SnapshotRow {
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
}

/** Stored channels (first-seen order) from a snapshot's channel map. */
function storedChannels(channels: Readonly<Record<string, ChannelStat>>): StoredChannel[] {
  return Object.entries(channels)
    .map(([channelId, c]) => ({ channelId, count: c.count, firstAt: c.firstAt, firstEventId: c.firstEventId }))
    .sort((a, b) => a.firstAt - b.firstAt || (a.firstEventId < b.firstEventId ? -1 : a.firstEventId > b.firstEventId ? 1 : 0));
}

function snapshotFromRow(row: SnapshotRow, gapMs: number): SessionSnapshot & { closeSeq: string | null } {
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
    closeSeq: row.close_seq,
  };
}

/** The API view of a snapshot; closeCursor comes from the stored row. */
export function viewFromSnapshot(s: SessionSnapshot, closeSeq: string | null): SessionView {
  const channels = storedChannels(s.channels);
  return {
    id: s.id,
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
  };
}

/** The next close cursor (migration 20261122190826_close_cursor_sequence). */
const NEXT_CLOSE_SEQ = "nextval('session_close_seq')";

/**
 * The columns written for a session and the Postgres type of their parameter:
 * `T[]` columns travel as one array literal each (unnested side by side);
 * `json` columns as one JSON array each, read by position (see SESSION_ARRAYS).
 */
const SESSION_COLUMNS = [
  ['id', 'uuid'],
  ['user_id', 'text'],
  ['status', 'text'],
  ['started_at', 'bigint'],
  ['ended_at', 'bigint'],
  ['closes_at', 'bigint'],
  ['duration_seconds', 'float8'],
  ['event_count', 'int'],
  ['event_counts', 'json'],
  ['channels', 'json'],
  ['top_channel', 'text'],
  ['total_value', 'float8'],
  ['converted', 'bool'],
  ['engaged', 'bool'],
  ['bounced', 'bool'],
  ['first_event_name', 'text'],
  ['last_event_name', 'text'],
  ['first_event_id', 'text'],
  ['last_event_id', 'text'],
  ['started_by_cut', 'bool'],
  ['close_reason', 'text'],
  ['closed_at', 'bigint'],
  ['close_seq', 'bigint'],
  ['version', 'int'],
] as const;

const ARRAY_COLUMNS = SESSION_COLUMNS.filter(([, type]) => type !== 'json');
const JSON_COLUMNS = SESSION_COLUMNS.filter(([, type]) => type === 'json');

/**
 * `unnest($1::uuid[], ...) WITH ORDINALITY AS x(id, ..., ord)`. The JSON
 * columns are not in it: inside an array literal every quote of their JSON is
 * escaped, and escaped again when Prisma serializes the parameter. Each is one
 * JSON array parameter instead, parsed once (a constant of the statement) and
 * read by position: `$24::jsonb -> (x.ord - 1)`.
 */
const SESSION_ARRAYS = `unnest(${ARRAY_COLUMNS.map(([, type], i) => `$${i + 1}::${type}[]`).join(', ')})
  WITH ORDINALITY AS x(${ARRAY_COLUMNS.map(([name]) => name).join(', ')}, ord)`;

/** The parameter expression of a JSON column: its element for row x. */
function jsonColumn(name: string): string {
  const i = JSON_COLUMNS.findIndex(([column]) => column === name);
  return `($${ARRAY_COLUMNS.length + i + 1}::jsonb -> (x.ord - 1)::int)`;
}

/** The value of each column from x, converted to the table's types. */
const SESSION_VALUES: Record<(typeof SESSION_COLUMNS)[number][0], string> = {
  id: 'x.id',
  user_id: 'x.user_id',
  status: 'x.status::"SessionStatus"',
  started_at: TS('x.started_at'),
  ended_at: TS('x.ended_at'),
  closes_at: TS('x.closes_at'),
  duration_seconds: 'x.duration_seconds',
  event_count: 'x.event_count',
  event_counts: jsonColumn('event_counts'),
  channels: jsonColumn('channels'),
  top_channel: 'x.top_channel',
  total_value: 'x.total_value',
  converted: 'x.converted',
  engaged: 'x.engaged',
  bounced: 'x.bounced',
  first_event_name: 'x.first_event_name',
  last_event_name: 'x.last_event_name',
  first_event_id: 'x.first_event_id',
  last_event_id: 'x.last_event_id',
  started_by_cut: 'x.started_by_cut',
  close_reason: 'x.close_reason::"CloseReason"',
  closed_at: `CASE WHEN x.closed_at IS NULL THEN NULL ELSE ${TS('x.closed_at')} END`,
  // A session keeps the cursor of its first closure; later corrections do not move it.
  close_seq: `CASE WHEN x.status = 'CLOSED' THEN coalesce(s.close_seq, x.close_seq) END`,
  version: 'x.version',
};


/** Columns an update sets: all but the key and the owner, which never change. */
const UPDATE_COLUMNS = SESSION_COLUMNS.filter(([name]) => name !== 'id' && name !== 'user_id').map(([name]) => name);
const UPDATE_SET = UPDATE_COLUMNS.map((name) => `${name} = ${SESSION_VALUES[name]}`).join(', ');

const INSERT_SQL = `INSERT INTO sessions AS s (${SESSION_COLUMNS.map(([name]) => name).join(', ')}, updated_at)
  SELECT ${SESSION_COLUMNS.map(([name]) => (name === 'close_seq' ? 'x.close_seq' : SESSION_VALUES[name])).join(', ')}, now()
  FROM ${SESSION_ARRAYS}
  ON CONFLICT (id) DO UPDATE SET ${UPDATE_COLUMNS.filter((name) => name !== 'close_seq').map((name) => `${name} = EXCLUDED.${name}`).join(', ')},
    close_seq = CASE WHEN EXCLUDED.status = 'CLOSED' THEN coalesce(s.close_seq, EXCLUDED.close_seq) END, updated_at = now()
  RETURNING id::text AS id, close_seq::text AS close_seq`;

const UPDATE_SQL = `UPDATE sessions AS s SET ${UPDATE_SET}, updated_at = now()
  FROM ${SESSION_ARRAYS}
  WHERE s.id = x.id
  RETURNING s.id::text AS id, s.close_seq::text AS close_seq`;

type SessionColumn = (typeof SESSION_COLUMNS)[number][0];

/**
 * The parameters of INSERT_SQL and UPDATE_SQL: one array literal per array
 * column, then one JSON array per JSON column (times in ms).
 */
function sessionParams(sessions: readonly SessionSnapshot[], cursors: ReadonlyMap<string, string>): string[] {
  const n = sessions.length;
  // Filled column by column in one pass (no row arrays: a commit writes thousands).
  const c = Object.fromEntries(SESSION_COLUMNS.map(([name]) => [name, new Array<unknown>(n)])) as Record<SessionColumn, unknown[]>;
  for (let i = 0; i < n; i++) {
    const s = sessions[i] as SessionSnapshot;
    c.id[i] = s.id;
    c.user_id[i] = s.userId;
    c.status[i] = s.status;
    c.started_at[i] = s.startedAt;
    c.ended_at[i] = s.endedAt;
    c.closes_at[i] = s.closesAt;
    c.duration_seconds[i] = s.durationMs / 1000;
    c.event_count[i] = s.eventCount;
    c.event_counts[i] = s.eventCounts;
    c.channels[i] = storedChannels(s.channels);
    c.top_channel[i] = s.topChannel;
    c.total_value[i] = s.totalValue;
    c.converted[i] = s.converted;
    c.engaged[i] = s.engaged;
    c.bounced[i] = s.bounced;
    c.first_event_name[i] = s.firstEventName;
    c.last_event_name[i] = s.lastEventName;
    c.first_event_id[i] = s.firstEventId;
    c.last_event_id[i] = s.lastEventId;
    c.started_by_cut[i] = s.startedByCut;
    c.close_reason[i] = s.closeReason;
    c.closed_at[i] = s.closedAt;
    c.close_seq[i] = s.status === 'CLOSED' ? (cursors.get(s.id) ?? null) : null;
    c.version[i] = s.version;
  }
  return [
    ...ARRAY_COLUMNS.map(([name]) => pgArray(c[name] as ArrayElement[])),
    ...JSON_COLUMNS.map(([name]) => JSON.stringify(c[name])),
  ];
}

/**
 * Writes the latest state of each session, set-based: sessions already stored
 * (`stored`) with one UPDATE, new ones with one INSERT (an UPDATE is about
 * half the cost of INSERT ... ON CONFLICT DO UPDATE on this table).
 *
 * A session stored CLOSED for the first time gets its close cursor (the
 * resume position of sessionClosed). `closing` lists the CLOSED ones in the
 * order their closures are announced: cursors are drawn from the sequence
 * session_close_seq in that order, so a subscriber always receives them in
 * ascending order and resuming after the last one it got misses nothing.
 * Later corrections keep the first cursor. Returns the stored close_seq per id.
 */
export async function writeSessions(
  db: Db,
  sessions: readonly SessionSnapshot[],
  stored: (id: string) => boolean,
  closing: readonly string[] = sessions.filter((s) => s.status === 'CLOSED').map((s) => s.id),
): Promise<Map<string, string | null>> {
  const seqs = new Map<string, string | null>();
  const cursors = await reserveCloseCursors(db, closing);
  const updates = sessions.filter((s) => stored(s.id));
  let inserts = sessions.filter((s) => !stored(s.id));
  if (updates.length > 0) {
    const rows = await db.$queryRawUnsafe<Array<{ id: string; close_seq: string | null }>>(UPDATE_SQL, ...sessionParams(updates, cursors));
    for (const r of rows) seqs.set(r.id, r.close_seq);
    // Not there after all (cannot happen while memory follows the database): insert it.
    if (rows.length < updates.length) inserts = inserts.concat(updates.filter((s) => !seqs.has(s.id)));
  }
  if (inserts.length > 0) {
    const rows = await db.$queryRawUnsafe<Array<{ id: string; close_seq: string | null }>>(INSERT_SQL, ...sessionParams(inserts, cursors));
    for (const r of rows) seqs.set(r.id, r.close_seq);
  }
  return seqs;
}

/** Draws one close cursor per id from the sequence, ascending in the order of `ids`. */
async function reserveCloseCursors(db: Db, ids: readonly string[]): Promise<Map<string, string>> {
  if (ids.length === 0) return new Map();
  const rows = await db.$queryRawUnsafe<Array<{ seq: string }>>(
    `SELECT n::text AS seq FROM (SELECT ${NEXT_CLOSE_SEQ} AS n FROM generate_series(1, $1::int)) AS drawn ORDER BY n`,
    ids.length,
  );
  return new Map(ids.map((id, i) => [id, rows[i]?.seq ?? '']));
}

/** Deletes sessions merged away by a correction. */
export async function deleteSessions(db: Db, ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return;
  await db.$executeRawUnsafe(`DELETE FROM sessions WHERE id = ANY(ARRAY(SELECT jsonb_array_elements_text($1::jsonb))::uuid[])`, JSON.stringify(ids));
}

/** Stored sessions of a user overlapping [fromTs, toTs] (startedAt <= toTs, endedAt >= fromTs). */
export async function loadUserSessions(
  db: Db,
  userId: string,
  fromTs: number,
  toTs: number,
  gapMs: number,
): Promise<SessionSnapshot[]> {
  const rows = await db.$queryRawUnsafe<SnapshotRow[]>(
    `SELECT ${SNAPSHOT_COLUMNS} FROM sessions
     WHERE user_id = $1 AND started_at <= ${TS('$3')} AND ended_at >= ${TS('$2')}
     ORDER BY started_at, id`,
    userId,
    fromTs,
    toTs,
  );
  return rows.map((r) => snapshotFromRow(r, gapMs));
}

/** Every OPEN session (restart), oldest first. */
export async function loadOpenSessions(db: Db, gapMs: number): Promise<SessionSnapshot[]> {
  const rows = await db.$queryRawUnsafe<SnapshotRow[]>(
    `SELECT ${SNAPSHOT_COLUMNS} FROM sessions WHERE status = 'OPEN' ORDER BY started_at, id`,
  );
  return rows.map((r) => snapshotFromRow(r, gapMs));
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
): Promise<Map<string, number>> {
  const bounded = Number.isFinite(watermark);
  const since = Math.round(watermark - gapMs);
  // started_at > ended_at - maxDuration = closes_at - gap - maxDuration: the
  // same bound on started_at lets Postgres range-scan sessions_started_idx
  // instead of reading every session at each restart.
  const rows = await db.$queryRawUnsafe<Array<{ user_id: string; frontier: number }>>(
    `SELECT user_id, ${MS('max(ended_at)')} AS frontier FROM sessions
     WHERE status = 'CLOSED' AND close_reason <> 'MAX_DURATION'
       ${bounded ? `AND closes_at >= ${TS('$1')} AND started_at >= ${TS('$2')}` : ''}
     GROUP BY user_id`,
    ...(bounded ? [since, since - gapMs - maxDurationMs] : []),
  );
  return new Map(rows.map((r) => [r.user_id, Math.round(r.frontier)]));
}

/** Closed sessions committed after `cursor`, in commit order (sessionClosed resume). */
export async function loadClosedAfter(
  db: Db,
  cursor: bigint,
  userId: string | null,
  limit: number,
  gapMs: number,
): Promise<SessionView[]> {
  const rows = await db.$queryRawUnsafe<SnapshotRow[]>(
    `SELECT ${SNAPSHOT_COLUMNS} FROM sessions
     WHERE close_seq > $1::bigint ${userId === null ? '' : 'AND user_id = $3'}
     ORDER BY close_seq LIMIT $2`,
    ...(userId === null ? [cursor.toString(), limit] : [cursor.toString(), limit, userId]),
  );
  return rows.map((r) => {
    const snapshot = snapshotFromRow(r, gapMs);
    return viewFromSnapshot(snapshot, snapshot.closeSeq);
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

/**
 * Sets the planner for the rest of a writer transaction (for it only).
 *
 * The writer's UPDATE joins a few thousand sessions (an unnest of arrays) to
 * the sessions table by id. Postgres prefers a hash join over a sequential
 * scan of the whole table, which grows with every session ever stored (and
 * with dead row versions until vacuum runs); index lookups by primary key
 * cost the same whatever the table size. Measured on 25,000 sessions: 73 ms
 * with the hash join, 35 ms with the nested loop, and the gap widens with the
 * table.
 */
export async function planWrites(db: Db): Promise<void> {
  await db.$queryRawUnsafe(`SELECT set_config('enable_hashjoin', 'off', true) AS hash, set_config('enable_mergejoin', 'off', true) AS merge`);
}

/**
 * Records the largest timestamp of the events a commit accepted (the
 * watermark's source after a restart); never lowers the stored one.
 */
export async function saveMaxEventTs(db: Db, maxEventTs: number): Promise<void> {
  await db.$executeRawUnsafe(
    `INSERT INTO service_state (id, max_event_ts, updated_at) VALUES (1, $1::bigint, now())
     ON CONFLICT (id) DO UPDATE SET max_event_ts = greatest(service_state.max_event_ts, EXCLUDED.max_event_ts), updated_at = now()`,
    Math.round(maxEventTs),
  );
}
