import type { PrismaClient } from '../generated/prisma/client.ts';
import { CodedError, ErrorCode } from '../errors.ts';
import {
  ATTRIBUTION_COLUMNS,
  attributionFromRow,
  attributionView,
  channelList,
  eventCountList,
  type AttributionRow,
  type SessionView,
} from './session-view.ts';
import { activeBuildOf, DEFINITION_NAME_SQL, IN_ACTIVE_BUILD } from './session-store.ts';

/** A time range on startedAt: [from, to); either end may be open. */
export interface TimeRange {
  readonly from: number | null;
  readonly to: number | null;
}

/** Filters of the `sessions` query. */
export interface SessionFilter extends TimeRange {
  /** Name of the session definition (its active build is read). */
  readonly definition: string;
  readonly userId: string | null;
  readonly status: 'OPEN' | 'CLOSED' | null;
}

/**
 * Filters and page of the `sessions` query: `first` sessions after the
 * `after` cursor (forward), or the `last` sessions before `before`
 * (backward), in the newest-first order either way.
 */
export interface SessionPageQuery extends SessionFilter {
  readonly direction: 'forward' | 'backward';
  /** Sessions on the page (0 gives an empty page that still tells whether more exist). */
  readonly size: number;
  /** `after` (forward) or `before` (backward), or null. */
  readonly cursor: string | null;
}

/** One Relay-style page, newest first. */
export interface SessionPage {
  readonly edges: ReadonlyArray<{ cursor: string; node: SessionView }>;
  readonly pageInfo: {
    readonly hasNextPage: boolean;
    readonly hasPreviousPage: boolean;
    readonly startCursor: string | null;
    readonly endCursor: string | null;
  };
}

/** Position (startedAt, id) of a session in the newest-first order, as an opaque string. */
export function encodeSessionCursor(startedAt: number, id: string): string {
  return Buffer.from(`${startedAt}|${id}`, 'utf8').toString('base64url');
}

/** Inverse of {@link encodeSessionCursor}; throws INVALID_CURSOR on anything else. */
export function decodeSessionCursor(cursor: string): { startedAt: number; id: string } {
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  const match = /^(-?\d{1,16})\|([0-9a-f-]{36})$/.exec(text);
  const startedAt = Number(match?.[1]);
  // A forged time past the Date range (±8.64e15 ms) would otherwise fail later, as an internal error.
  if (!match || Number.isNaN(new Date(startedAt).getTime())) {
    throw new CodedError(ErrorCode.InvalidCursor, 'the cursor (`after` or `before`) is not one this API returned');
  }
  return { startedAt, id: match[2] ?? '' };
}

const ms = (column: string): string => `(extract(epoch FROM ${column}) * 1000)::float8 AS ${column}`;

/** The columns of {@link ViewRow}; times as ms since the epoch. */
const VIEW_COLUMNS = `id::text AS id, user_id, status::text AS status, ${ms('started_at')}, ${ms('ended_at')},
  ${ms('closes_at')}, ${ms('closed_at')}, duration_seconds, event_count, event_counts, channels, top_channel,
  total_value, converted, engaged, bounced, first_event_name, last_event_name, close_reason::text AS close_reason,
  version, close_seq::text AS close_seq, ${ATTRIBUTION_COLUMNS}, ${DEFINITION_NAME_SQL} AS definition_name`;

interface ViewRow extends AttributionRow {
  id: string;
  user_id: string;
  status: 'OPEN' | 'CLOSED';
  started_at: number;
  ended_at: number;
  closes_at: number;
  closed_at: number | null;
  duration_seconds: number;
  event_count: number;
  event_counts: unknown;
  channels: unknown;
  top_channel: string | null;
  total_value: number;
  converted: boolean;
  engaged: boolean;
  bounced: boolean;
  first_event_name: string;
  last_event_name: string;
  close_reason: 'INACTIVITY' | 'MAX_DURATION' | 'FLUSH' | null;
  version: number;
  close_seq: string | null;
  definition_name: string;
}

function viewFromRow(row: ViewRow): SessionView {
  return {
    id: row.id,
    definition: row.definition_name,
    userId: row.user_id,
    status: row.status,
    startedAt: Math.round(row.started_at),
    endedAt: Math.round(row.ended_at),
    closesAt: Math.round(row.closes_at),
    durationSeconds: row.duration_seconds,
    eventCount: row.event_count,
    eventCounts: eventCountList(row.event_counts),
    channels: channelList(row.channels),
    topChannel: row.top_channel,
    totalValue: row.total_value,
    converted: row.converted,
    engaged: row.engaged,
    bounced: row.bounced,
    firstEventName: row.first_event_name,
    lastEventName: row.last_event_name,
    closeReason: row.close_reason,
    closedAt: row.closed_at === null ? null : Math.round(row.closed_at),
    version: row.version,
    closeCursor: row.close_seq,
    ...attributionView(attributionFromRow(row)),
  };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Read side of sessions: lookups and pages (analytics live in stats-reader.ts).
 * Plain SQL rather than findMany: the keyset needs a row comparison, which
 * Prisma cannot express, and the rows map straight to the API view.
 */
export class SessionReader {
  constructor(private readonly prisma: PrismaClient) {}

  /** One session by id, of any definition (in a build the API shows), or null (also for ids that are not UUIDs). */
  async byId(id: string): Promise<SessionView | null> {
    if (!UUID.test(id)) return null;
    const rows = await this.prisma.$queryRawUnsafe<ViewRow[]>(
      `SELECT ${VIEW_COLUMNS} FROM sessions WHERE id = $1::uuid AND ${IN_ACTIVE_BUILD}`,
      id.toLowerCase(),
    );
    const row = rows[0];
    return row === undefined ? null : viewFromRow(row);
  }

  /**
   * A page of sessions, newest first by (startedAt, id). The cursor is a
   * keyset: `(started_at, id) < (cursor)` is an index condition on both
   * (user_id, started_at DESC, id DESC) and (started_at DESC, id DESC), so a
   * page deep in the history costs what the first one does. (The equivalent
   * `started_at < a OR (started_at = a AND id < b)` is only a filter: page
   * 5,000 of 1M sessions scanned 750k index entries, 350 ms.) A backward page
   * reads the same index the other way and is reversed here.
   *
   * Beyond the page, one more row tells whether the walk can go on in its own
   * direction; the other flag is whether a cursor was given (the session it
   * names, or its neighbours, lie that way), as the Relay spec allows.
   */
  async page(query: SessionPageQuery): Promise<SessionPage> {
    const where = filterConditions(query);
    const forward = query.direction === 'forward';
    if (query.cursor !== null) {
      const cursor = decodeSessionCursor(query.cursor);
      const at = where.param(new Date(cursor.startedAt).toISOString(), 'timestamptz');
      where.conditions.push(`(started_at, id) ${forward ? '<' : '>'} (${at}, ${where.param(cursor.id, 'uuid')})`);
    }
    const order = forward ? 'DESC' : 'ASC';
    const rows = await this.prisma.$queryRawUnsafe<ViewRow[]>(
      // Qualified: a bare `id` in ORDER BY would be the output column id::text, which no index has.
      `SELECT ${VIEW_COLUMNS} FROM sessions AS s ${where.sql()}
       ORDER BY s.started_at ${order}, s.id ${order} LIMIT ${where.param(query.size + 1, 'int')}`,
      ...where.params,
    );
    const more = rows.length > query.size;
    const page = rows.slice(0, query.size);
    if (!forward) page.reverse();
    const edges = page.map((row) => {
      const node = viewFromRow(row);
      return { cursor: encodeSessionCursor(node.startedAt, node.id), node };
    });
    return {
      edges,
      pageInfo: {
        hasNextPage: forward ? more : query.cursor !== null,
        hasPreviousPage: forward ? query.cursor !== null : more,
        startCursor: edges[0]?.cursor ?? null,
        endCursor: edges.at(-1)?.cursor ?? null,
      },
    };
  }

  /** Sessions matching the filters (the connection's totalCount; run only when asked for). */
  async count(filter: SessionFilter): Promise<number> {
    const where = filterConditions(filter);
    const rows = await this.prisma.$queryRawUnsafe<Array<{ n: number }>>(`SELECT count(*)::int AS n FROM sessions ${where.sql()}`, ...where.params);
    return rows[0]?.n ?? 0;
  }
}

/** WHERE conditions of the filters, with their parameters; more can be added before sql() is read. */
function filterConditions(filter: SessionFilter): { conditions: string[]; params: unknown[]; param(value: unknown, cast: string): string; sql(): string } {
  const conditions: string[] = [];
  const params: unknown[] = [];
  const param = (value: unknown, cast: string): string => {
    params.push(value);
    return `$${params.length}::${cast}`;
  };
  conditions.push(activeBuildOf(param(filter.definition, 'text')));
  if (filter.userId !== null) conditions.push(`user_id = ${param(filter.userId, 'text')}`);
  if (filter.status !== null) conditions.push(`status = ${param(filter.status, '"SessionStatus"')}`);
  if (filter.from !== null) conditions.push(`started_at >= ${param(new Date(filter.from).toISOString(), 'timestamptz')}`);
  if (filter.to !== null) conditions.push(`started_at < ${param(new Date(filter.to).toISOString(), 'timestamptz')}`);
  return { conditions, params, param, sql: () => (conditions.length === 0 ? '' : `WHERE ${conditions.join(' AND ')}`) };
}
