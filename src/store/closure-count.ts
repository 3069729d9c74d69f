import type { Db } from './event-store.ts';
import { activeBuildOf } from './session-store.ts';

/**
 * How many sessions closed after `cursor` (of `userId` when given), counting
 * no further than `limit`: the cost stays bounded however old the cursor is
 * (the unique index on close_seq serves the range).
 */
export async function countClosedAfter(db: Db, cursor: bigint, definition: string, userId: string | null, limit: number): Promise<number> {
  const rows = await db.$queryRawUnsafe<Array<{ n: number }>>(
    `SELECT count(*)::int AS n FROM (
       SELECT 1 FROM sessions WHERE close_seq > $1::bigint AND ${activeBuildOf('$3')} ${userId === null ? '' : 'AND user_id = $4'} LIMIT $2
     ) AS closures`,
    ...(userId === null ? [cursor.toString(), limit, definition] : [cursor.toString(), limit, definition, userId]),
  );
  return rows[0]?.n ?? 0;
}
