/**
 * The writer's SQL for sessions: set-based writes of a commit's session
 * changes, close cursors, and the per-transaction settings. Reads are in
 * session-store.ts.
 */
import { DEFAULT_PARTITIONS, partitionOf } from '../cluster/partition.ts';
import { DEFAULT_DEFINITION } from '../definitions/definitions.ts';
import type { SessionSnapshot } from '../sessionizer/types.ts';
import type { Db } from './event-store.ts';
import { pgArray, type ArrayElement } from './pg-array.ts';
import { MS, storedChannels, TS } from './session-store.ts';

/** The next close cursor (migration 20261122190826_close_cursor_sequence). */
const NEXT_CLOSE_SEQ = "nextval('session_close_seq')";

/**
 * Advisory lock key that serialises the drawing of close cursors with the
 * commit, across every instance on the database: a transaction takes it
 * (for the rest of the transaction) before it draws, so cursors become
 * visible in the order they were drawn and a reader that saw cursor n has
 * seen every smaller one that will ever commit (DESIGN.md, Cluster).
 */
const CLOSE_CURSOR_LOCK = 7_270_737_001;

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
  ['partition', 'int'],
  ['entry_url', 'text'],
  ['exit_url', 'text'],
  ['referrer', 'text'],
  ['referrer_domain', 'text'],
  ['utm_source', 'text'],
  ['utm_medium', 'text'],
  ['utm_campaign', 'text'],
  ['utm_term', 'text'],
  ['utm_content', 'text'],
  ['channel_group', 'text'],
  ['attribution_keys', 'json'],
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

type SessionColumn = (typeof SESSION_COLUMNS)[number][0];

/** The value of each column from x, converted to the table's types. */
const SESSION_VALUES: Record<SessionColumn, string> = {
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
  close_seq: 'x.close_seq',
  version: 'x.version',
  partition: 'x.partition',
  entry_url: 'x.entry_url',
  exit_url: 'x.exit_url',
  referrer: 'x.referrer',
  referrer_domain: 'x.referrer_domain',
  utm_source: 'x.utm_source',
  utm_medium: 'x.utm_medium',
  utm_campaign: 'x.utm_campaign',
  utm_term: 'x.utm_term',
  utm_content: 'x.utm_content',
  channel_group: 'x.channel_group',
  // A JSON null element is the jsonb value null, not SQL NULL.
  attribution_keys: `nullif(${jsonColumn('attribution_keys')}, 'null'::jsonb)`,
};

/**
 * The close_seq a stored row gets from the values `sent` (x, or EXCLUDED):
 * a session keeps the cursor of its first closure; later corrections do not
 * move it.
 */
const keepFirstCursor = (sent: string): string => `CASE WHEN ${sent}.status = 'CLOSED' THEN coalesce(s.close_seq, ${sent}.close_seq) END`;

/** Columns an update sets: all but the key, the owner and its partition, which never change. */
const UPDATE_COLUMNS = SESSION_COLUMNS.filter(([name]) => name !== 'id' && name !== 'user_id' && name !== 'partition').map(([name]) => name);

/** The SET list of an update: `of` gives each column's new value; close_seq keeps the first cursor (keepFirstCursor). */
function updateSet(sent: string, of: (name: SessionColumn) => string): string {
  return UPDATE_COLUMNS.map((name) => `${name} = ${name === 'close_seq' ? keepFirstCursor(sent) : of(name)}`).join(', ');
}

/** The parameter of the definition key: one value for every row of a statement (a lane writes one definition). */
const DEFINITION_PARAM = `$${ARRAY_COLUMNS.length + JSON_COLUMNS.length + 1}::text`;

/**
 * prev_started_at of row x of a statement: the latest start before x's among
 * the user's other sessions of the build, as the statement sees the table
 * (rows written by the same statement are not visible; linkPreviousStarts
 * settles those afterwards).
 */
const prevStartOf = (definition: string): string =>
  `(SELECT max(q.started_at) FROM sessions AS q
    WHERE q.user_id = x.user_id AND q.definition = ${definition} AND q.started_at < ${TS('x.started_at')} AND q.id <> x.id)`;

// definition is set on insert only: a session never moves to another definition.
const INSERT_SQL = `INSERT INTO sessions AS s (${SESSION_COLUMNS.map(([name]) => name).join(', ')}, definition, prev_started_at, updated_at)
  SELECT ${SESSION_COLUMNS.map(([name]) => SESSION_VALUES[name]).join(', ')}, ${DEFINITION_PARAM}, ${prevStartOf(DEFINITION_PARAM)}, now()
  FROM ${SESSION_ARRAYS}
  ON CONFLICT (id) DO UPDATE SET ${updateSet('EXCLUDED', (name) => `EXCLUDED.${name}`)},
    prev_started_at = EXCLUDED.prev_started_at, updated_at = now()
  RETURNING id::text AS id, close_seq::text AS close_seq, user_id, ${MS('started_at')} AS started_at,
    EXISTS (SELECT 1 FROM sessions AS q
      WHERE q.user_id = s.user_id AND q.definition = s.definition AND q.started_at > s.started_at AND q.id <> s.id) AS followed`;

/**
 * The stored row before the update is read a second time (o, by primary
 * key): in SET, s is the old row, but RETURNING sees only the new one, and a
 * session whose start moved is an anchor of linkPreviousStarts at both its
 * old and its new start. A row whose start did not move keeps its
 * prev_started_at (the common case: open sessions growing at their end).
 */
const UPDATE_SQL = `UPDATE sessions AS s SET ${updateSet('x', (name) => SESSION_VALUES[name])},
    prev_started_at = CASE WHEN s.started_at = ${TS('x.started_at')} THEN s.prev_started_at ELSE ${prevStartOf('s.definition')} END,
    updated_at = now()
  FROM ${SESSION_ARRAYS}, sessions AS o
  WHERE s.id = x.id AND o.id = x.id
  RETURNING s.id::text AS id, s.close_seq::text AS close_seq, s.user_id, ${MS('s.started_at')} AS started_at,
    CASE WHEN o.started_at <> s.started_at THEN ${MS('o.started_at')} END AS moved_from`;

/** A user's session start (ms) around which prev_started_at may have changed. */
export interface StartAnchor {
  readonly userId: string;
  readonly startedAt: number;
}

/**
 * Sets prev_started_at right for every session whose predecessor may have
 * changed: the first two sessions of the user at or after each anchor (the
 * session at the anchor, if any, and the one after it). Anchors are the
 * starts of inserted sessions (those that are not their user's latest, or
 * not the statement's only new one of the user: any other got its value
 * right in the INSERT), the old and new starts of sessions whose start
 * moved, and the stored starts of deleted ones: a session's predecessor
 * changes only when a start appears, disappears or moves between it and its
 * old predecessor, and then that start is an anchor whose first two
 * sessions include it. Only rows whose value differs are rewritten.
 */
const LINK_SQL = `UPDATE sessions AS s SET prev_started_at = t.prev
  FROM (
    SELECT n.id,
      (SELECT max(q.started_at) FROM sessions AS q
        WHERE q.user_id = n.user_id AND q.definition = $3 AND q.started_at < n.started_at) AS prev
    FROM (SELECT DISTINCT user_id, started_at FROM unnest($1::text[], $2::bigint[]) AS a(user_id, started_at)) AS a
    CROSS JOIN LATERAL (
      SELECT q.id, q.user_id, q.started_at FROM sessions AS q
      WHERE q.user_id = a.user_id AND q.definition = $3 AND q.started_at >= ${TS('a.started_at')}
      ORDER BY q.started_at LIMIT 2
    ) AS n
  ) AS t
  WHERE s.id = t.id AND s.prev_started_at IS DISTINCT FROM t.prev`;

async function linkPreviousStarts(db: Db, definitionKey: string, anchors: readonly StartAnchor[]): Promise<void> {
  if (anchors.length === 0) return;
  await db.$executeRawUnsafe(
    LINK_SQL,
    pgArray(anchors.map((a) => a.userId)),
    pgArray(anchors.map((a) => a.startedAt)),
    definitionKey,
  );
}

/**
 * The parameters of INSERT_SQL and UPDATE_SQL: one array literal per array
 * column, then one JSON array per JSON column (times in ms).
 */
function sessionParams(sessions: readonly SessionSnapshot[], cursors: ReadonlyMap<string, string>, partitions: number): string[] {
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
    c.partition[i] = partitionOf(s.userId, partitions);
    const a = s.attribution;
    c.entry_url[i] = a.entryUrl;
    c.exit_url[i] = a.exitUrl;
    c.referrer[i] = a.referrer;
    c.referrer_domain[i] = a.referrerDomain;
    c.utm_source[i] = a.utmSource;
    c.utm_medium[i] = a.utmMedium;
    c.utm_campaign[i] = a.utmCampaign;
    c.utm_term[i] = a.utmTerm;
    c.utm_content[i] = a.utmContent;
    c.channel_group[i] = a.channelGroup;
    c.attribution_keys[i] = a.keys;
  }
  return [
    ...ARRAY_COLUMNS.map(([name]) => pgArray(c[name] as ArrayElement[])),
    ...JSON_COLUMNS.map(([name]) => JSON.stringify(c[name])),
  ];
}

/** What INSERT_SQL and UPDATE_SQL return of each row they wrote (times in ms). */
interface WrittenRow {
  readonly id: string;
  readonly close_seq: string | null;
  readonly user_id: string;
  readonly started_at: number;
}

export interface WriteOptions {
  /** CLOSED sessions in the order their closures are announced; default: every CLOSED one, in order. */
  readonly closing?: readonly string[];
  readonly partitions?: number;
  /** sessions.definition of new rows: the key of the definition build they belong to. */
  readonly definitionKey?: string;
  /** Stored starts of the sessions the same transaction deleted (deleteSessions). */
  readonly removed?: readonly StartAnchor[];
}

/**
 * Writes the latest state of each session, set-based: sessions already stored
 * (`stored`) with one UPDATE, new ones with one INSERT (an UPDATE is about
 * half the cost of INSERT ... ON CONFLICT DO UPDATE on this table), then
 * settles prev_started_at around every start that appeared, moved or went
 * (linkPreviousStarts).
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
  options: WriteOptions = {},
): Promise<Map<string, string | null>> {
  const {
    closing = sessions.filter((s) => s.status === 'CLOSED').map((s) => s.id),
    partitions = DEFAULT_PARTITIONS,
    definitionKey = DEFAULT_DEFINITION,
    removed = [],
  } = options;
  const seqs = new Map<string, string | null>();
  const anchors: StartAnchor[] = [...removed];
  const cursors = await reserveCloseCursors(db, closing);
  const updates = sessions.filter((s) => stored(s.id));
  let inserts = sessions.filter((s) => !stored(s.id));
  if (updates.length > 0) {
    const rows = await db.$queryRawUnsafe<Array<WrittenRow & { moved_from: number | null }>>(UPDATE_SQL, ...sessionParams(updates, cursors, partitions));
    for (const r of rows) {
      seqs.set(r.id, r.close_seq);
      if (r.moved_from !== null) anchors.push({ userId: r.user_id, startedAt: Number(r.moved_from) }, { userId: r.user_id, startedAt: Number(r.started_at) });
    }
    // Not there after all (cannot happen while memory follows the database): insert it.
    if (rows.length < updates.length) inserts = inserts.concat(updates.filter((s) => !seqs.has(s.id)));
  }
  if (inserts.length > 0) {
    const rows = await db.$queryRawUnsafe<Array<WrittenRow & { followed: boolean }>>(INSERT_SQL, ...sessionParams(inserts, cursors, partitions), definitionKey);
    // A new session is an anchor only when the user has a later session (its
    // successor's predecessor changed) or another new one in this statement
    // (which the statement's own prev_started_at could not see). In-order
    // traffic has neither, and writes no link statement at all.
    const perUser = new Map<string, number>();
    for (const s of inserts) perUser.set(s.userId, (perUser.get(s.userId) ?? 0) + 1);
    for (const r of rows) {
      seqs.set(r.id, r.close_seq);
      if (r.followed || (perUser.get(r.user_id) ?? 0) > 1) anchors.push({ userId: r.user_id, startedAt: Number(r.started_at) });
    }
  }
  await linkPreviousStarts(db, definitionKey, anchors);
  return seqs;
}

/** Draws one close cursor per id from the sequence, ascending in the order of `ids`. */
async function reserveCloseCursors(db: Db, ids: readonly string[]): Promise<Map<string, string>> {
  if (ids.length === 0) return new Map();
  await db.$queryRawUnsafe(`SELECT pg_advisory_xact_lock(${CLOSE_CURSOR_LOCK})::text AS locked`);
  const rows = await db.$queryRawUnsafe<Array<{ seq: string }>>(
    `SELECT n::text AS seq FROM (SELECT ${NEXT_CLOSE_SEQ} AS n FROM generate_series(1, $1::int)) AS drawn ORDER BY n`,
    ids.length,
  );
  return new Map(ids.map((id, i) => [id, rows[i]?.seq ?? '']));
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
