import type { ChannelStat, SessionSnapshot } from '../sessionizer/types.ts';
import type { Db } from './event-store.ts';
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
  for (const c of row.channels) channels[c.channelId] = { count: c.count, firstAt: c.firstAt, firstEventId: c.firstEventId };
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

/**
 * Writes the latest state of each session in one statement. A session that
 * is CLOSED gets `closeSeq` the first time it is stored closed (the resume
 * cursor of sessionClosed); later corrections keep it. Returns the stored
 * close_seq per id.
 */
export async function upsertSessions(
  db: Db,
  sessions: readonly SessionSnapshot[],
  nextCloseSeq: () => bigint,
): Promise<Map<string, string | null>> {
  if (sessions.length === 0) return new Map();
  const payload = JSON.stringify(
    sessions.map((s) => ({
      id: s.id,
      user_id: s.userId,
      status: s.status,
      started_at: s.startedAt,
      ended_at: s.endedAt,
      closes_at: s.closesAt,
      duration_seconds: s.durationMs / 1000,
      event_count: s.eventCount,
      event_counts: s.eventCounts,
      channels: storedChannels(s.channels),
      top_channel: s.topChannel,
      total_value: s.totalValue,
      converted: s.converted,
      engaged: s.engaged,
      bounced: s.bounced,
      first_event_name: s.firstEventName,
      last_event_name: s.lastEventName,
      first_event_id: s.firstEventId,
      last_event_id: s.lastEventId,
      started_by_cut: s.startedByCut,
      close_reason: s.closeReason,
      closed_at: s.closedAt,
      close_seq: s.status === 'CLOSED' ? nextCloseSeq().toString() : null,
      version: s.version,
    })),
  );
  const rows = await db.$queryRawUnsafe<Array<{ id: string; close_seq: string | null }>>(
    `INSERT INTO sessions AS s (id, user_id, status, started_at, ended_at, closes_at, duration_seconds, event_count,
       event_counts, channels, top_channel, total_value, converted, engaged, bounced, first_event_name, last_event_name,
       first_event_id, last_event_id, started_by_cut, close_reason, closed_at, close_seq, version, updated_at)
     SELECT x.id, x.user_id, x.status::"SessionStatus", ${TS('x.started_at')}, ${TS('x.ended_at')}, ${TS('x.closes_at')},
       x.duration_seconds, x.event_count, x.event_counts, x.channels, x.top_channel, x.total_value, x.converted,
       x.engaged, x.bounced, x.first_event_name, x.last_event_name, x.first_event_id, x.last_event_id,
       x.started_by_cut, x.close_reason::"CloseReason", ${TS('x.closed_at')}, x.close_seq, x.version, now()
     FROM jsonb_to_recordset($1::jsonb) AS x(id uuid, user_id text, status text, started_at bigint, ended_at bigint,
       closes_at bigint, duration_seconds float8, event_count int, event_counts jsonb, channels jsonb, top_channel text,
       total_value float8, converted boolean, engaged boolean, bounced boolean, first_event_name text,
       last_event_name text, first_event_id text, last_event_id text, started_by_cut boolean, close_reason text,
       closed_at bigint, close_seq bigint, version int)
     ON CONFLICT (id) DO UPDATE SET
       status = EXCLUDED.status, started_at = EXCLUDED.started_at, ended_at = EXCLUDED.ended_at,
       closes_at = EXCLUDED.closes_at, duration_seconds = EXCLUDED.duration_seconds, event_count = EXCLUDED.event_count,
       event_counts = EXCLUDED.event_counts, channels = EXCLUDED.channels, top_channel = EXCLUDED.top_channel,
       total_value = EXCLUDED.total_value, converted = EXCLUDED.converted, engaged = EXCLUDED.engaged,
       bounced = EXCLUDED.bounced, first_event_name = EXCLUDED.first_event_name,
       last_event_name = EXCLUDED.last_event_name, first_event_id = EXCLUDED.first_event_id,
       last_event_id = EXCLUDED.last_event_id, started_by_cut = EXCLUDED.started_by_cut,
       close_reason = EXCLUDED.close_reason, closed_at = EXCLUDED.closed_at,
       close_seq = CASE WHEN EXCLUDED.status = 'CLOSED' THEN coalesce(s.close_seq, EXCLUDED.close_seq) END,
       version = EXCLUDED.version, updated_at = now()
     RETURNING id::text AS id, close_seq::text AS close_seq`,
    payload,
  );
  return new Map(rows.map((r) => [r.id, r.close_seq]));
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
export async function loadClosedFrontiers(db: Db, watermark: number, gapMs: number): Promise<Map<string, number>> {
  const bounded = Number.isFinite(watermark);
  const rows = await db.$queryRawUnsafe<Array<{ user_id: string; frontier: number }>>(
    `SELECT user_id, ${MS('max(ended_at)')} AS frontier FROM sessions
     WHERE status = 'CLOSED' AND close_reason <> 'MAX_DURATION' ${bounded ? `AND closes_at >= ${TS('$1')}` : ''}
     GROUP BY user_id`,
    ...(bounded ? [Math.round(watermark - gapMs)] : []),
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

/** Service-wide counters kept across restarts. */
export async function loadServiceState(db: Db): Promise<{ maxEventTs: number | null; maxCloseSeq: bigint }> {
  const rows = await db.$queryRawUnsafe<Array<{ max_event_ts: string | null; max_close_seq: string | null }>>(
    `SELECT (SELECT max_event_ts::text FROM service_state WHERE id = 1) AS max_event_ts,
            (SELECT max(close_seq)::text FROM sessions) AS max_close_seq`,
  );
  const row = rows[0];
  return {
    maxEventTs: row?.max_event_ts == null ? null : Number(row.max_event_ts),
    maxCloseSeq: BigInt(row?.max_close_seq ?? '0'),
  };
}

/** Records the largest accepted event timestamp (the watermark's source) in the same transaction. */
export async function saveMaxEventTs(db: Db, maxEventTs: number): Promise<void> {
  await db.$executeRawUnsafe(
    `INSERT INTO service_state (id, max_event_ts, updated_at) VALUES (1, $1::bigint, now())
     ON CONFLICT (id) DO UPDATE SET max_event_ts = greatest(service_state.max_event_ts, EXCLUDED.max_event_ts), updated_at = now()`,
    Math.round(maxEventTs),
  );
}
