import type { Prisma, PrismaClient } from '../generated/prisma/client.ts';
import { ErrorCode, ServiceError } from '../graphql/errors.ts';
import { sessionViewFromRow, type SessionView } from './session-view.ts';

/** A time range on startedAt: [from, to); either end may be open. */
export interface TimeRange {
  readonly from: number | null;
  readonly to: number | null;
}

/** Filters and page of the `sessions` query. */
export interface SessionPageQuery extends TimeRange {
  readonly userId: string | null;
  readonly status: 'OPEN' | 'CLOSED' | null;
  readonly first: number;
  readonly after: string | null;
}

/** One Relay-style page, newest first. */
export interface SessionPage {
  readonly edges: ReadonlyArray<{ cursor: string; node: SessionView }>;
  readonly hasNextPage: boolean;
  readonly endCursor: string | null;
}

/** Position (startedAt, id) of a session in the newest-first order, as an opaque string. */
export function encodeSessionCursor(startedAt: number, id: string): string {
  return Buffer.from(`${startedAt}|${id}`, 'utf8').toString('base64url');
}

/** Inverse of {@link encodeSessionCursor}; throws INVALID_CURSOR on anything else. */
export function decodeSessionCursor(cursor: string): { startedAt: number; id: string } {
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  const match = /^(-?\d{1,16})\|([0-9a-f-]{36})$/.exec(text);
  if (!match) throw new ServiceError(ErrorCode.InvalidCursor, 'the `after` cursor is not one this API returned');
  return { startedAt: Number(match[1]), id: match[2] ?? '' };
}

function rangeWhere(range: TimeRange): Prisma.DateTimeFilter | undefined {
  if (range.from === null && range.to === null) return undefined;
  return {
    ...(range.from !== null ? { gte: new Date(range.from) } : {}),
    ...(range.to !== null ? { lt: new Date(range.to) } : {}),
  };
}

/** Read side of sessions: lookups and pages (analytics live in stats-reader.ts). */
export class SessionReader {
  constructor(private readonly prisma: PrismaClient) {}

  /** One session by id, or null (also for ids that are not UUIDs). */
  async byId(id: string): Promise<SessionView | null> {
    if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id)) return null;
    const row = await this.prisma.session.findUnique({ where: { id: id.toLowerCase() } });
    return row === null ? null : sessionViewFromRow(row);
  }

  /** A page of sessions, newest first by (startedAt, id), using the keyset after the cursor. */
  async page(query: SessionPageQuery): Promise<SessionPage> {
    const and: Prisma.SessionWhereInput[] = [];
    if (query.userId !== null) and.push({ userId: query.userId });
    if (query.status !== null) and.push({ status: query.status });
    const started = rangeWhere(query);
    if (started !== undefined) and.push({ startedAt: started });
    if (query.after !== null) {
      const cursor = decodeSessionCursor(query.after);
      const at = new Date(cursor.startedAt);
      and.push({ OR: [{ startedAt: { lt: at } }, { startedAt: at, id: { lt: cursor.id } }] });
    }
    const rows = await this.prisma.session.findMany({
      where: { AND: and },
      orderBy: [{ startedAt: 'desc' }, { id: 'desc' }],
      take: query.first + 1,
    });
    const hasNextPage = rows.length > query.first;
    const edges = rows.slice(0, query.first).map((row) => {
      const node = sessionViewFromRow(row);
      return { cursor: encodeSessionCursor(node.startedAt, node.id), node };
    });
    return { edges, hasNextPage, endCursor: edges.at(-1)?.cursor ?? null };
  }
}
