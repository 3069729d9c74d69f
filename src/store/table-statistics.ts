import type { PrismaClient } from '../generated/prisma/client.ts';
import type { Logger } from '../logger.ts';

/**
 * The tables whose planner statistics the service keeps from going stale.
 * The writer's statements look up a user's sessions and events by
 * correlated subqueries, and with statistics that do not fit the table
 * Postgres reads them through the (definition, started_at) index, filtering
 * every session of the definition for the user:
 * - without statistics (a new database) it takes `definition = $1` to
 *   select 0.5% of the rows, as selective as `user_id = $2`: the second
 *   commit of a backfill, 5,357 sessions over a few thousand stored, took
 *   3.3 s instead of about 0.1 s;
 * - with statistics of a few first rows of one user it takes `user_id = $2`
 *   to select every row: each late or new user then cost a scan of the
 *   whole table, 20 ms per user at 69k sessions, and a commit of 1,000 new
 *   users 25 s, more with every commit.
 * Autovacuum analyzes a table once a tenth of it changed, where it runs and
 * keeps up; where it does not (off, or behind on a busy server), the service
 * does it: at a table's first rows, and again whenever more rows changed
 * since its last ANALYZE than it held then (at least MIN_CHANGED_ROWS), so
 * statistics are never more than one doubling behind. Rewritten rows
 * count too, as for autovacuum: counting growth alone (tried) analyzed a
 * table of 20,000 sessions rewritten by steady traffic far less often, but
 * that work runs in the background and ingest was no faster, while the
 * analytics after a bulk fill of 1M sessions were 15-20% slower (their
 * statistics were of the first half of the time range).
 */
export const STATISTICS_TABLES = ['sessions', 'events', 'session_facts'] as const;

/** Rows changed since the last ANALYZE past which a small table is analyzed again. */
const MIN_CHANGED_ROWS = 1_000;
/** Least time between two checks once every table has statistics (ms). */
const CHECK_INTERVAL_MS = 1_000;

/**
 * Runs ANALYZE on each of `tables` that has rows and no statistics yet, or
 * whose changes since its last ANALYZE (pg_stat_user_tables) outnumber the
 * rows it held then (and MIN_CHANGED_ROWS). Tables this role may not
 * analyze (neither it nor the database is their owner's) are left alone.
 * Returns the tables still without statistics because they are empty.
 */
export async function analyzeStaleTables(prisma: PrismaClient, tables: readonly string[] = STATISTICS_TABLES): Promise<string[]> {
  for (const name of tables) if (!(STATISTICS_TABLES as readonly string[]).includes(name)) throw new Error(`not a table of the service: ${name}`);
  const rows = await prisma.$queryRawUnsafe<Array<{ name: string; analyzed: boolean; held: number; changed: number; may: boolean }>>(
    `SELECT t.name,
       EXISTS (SELECT 1 FROM pg_stats AS p WHERE p.schemaname = current_schema() AND p.tablename = t.name) AS analyzed,
       greatest(c.reltuples, 0)::float8 AS held,
       coalesce(s.n_mod_since_analyze, 0)::float8 AS changed,
       (pg_has_role(c.relowner, 'MEMBER')
         OR pg_has_role((SELECT datdba FROM pg_database WHERE datname = current_database()), 'MEMBER')) AS may
     FROM unnest($1::text[]) WITH ORDINALITY AS t(name, i)
     JOIN pg_class AS c ON c.oid = to_regclass(quote_ident(current_schema()) || '.' || quote_ident(t.name))
     LEFT JOIN pg_stat_user_tables AS s ON s.relid = c.oid
     ORDER BY t.i`,
    tables,
  );
  const empty: string[] = [];
  for (const { name, analyzed, held, changed, may } of rows) {
    if (!may) continue;
    if (analyzed) {
      if (changed >= Math.max(held, MIN_CHANGED_ROWS)) await prisma.$executeRawUnsafe(`ANALYZE "${name}"`);
      continue;
    }
    // No statistics: rows are looked for directly (the counters above may lag by seconds).
    const filled = await prisma.$queryRawUnsafe<Array<{ filled: boolean }>>(`SELECT EXISTS (SELECT 1 FROM "${name}") AS filled`);
    if (filled[0]?.filled === true) await prisma.$executeRawUnsafe(`ANALYZE "${name}"`);
    else empty.push(name);
  }
  return empty;
}

/**
 * Keeps the statistics of the service's tables (analyzeStaleTables): a
 * check at start, and after commits (`committed`: rows only change by
 * commits): after each one while a table still has no statistics, then at
 * most every CHECK_INTERVAL_MS. One check at a time, in the background (a
 * commit never waits for it). A failure is logged once and the service
 * leaves statistics to autovacuum.
 */
export function startTableStatistics(prisma: PrismaClient, options: { logger: Logger }): { committed(): void; stop(): Promise<void> } {
  let empty: readonly string[] = STATISTICS_TABLES;
  let running: Promise<void> | null = null;
  let stopped = false;
  let nextAt = 0;
  const check = (): void => {
    if (stopped || running !== null) return;
    const now = Date.now();
    if (empty.length === 0 && now < nextAt) return;
    nextAt = now + CHECK_INTERVAL_MS;
    running = analyzeStaleTables(prisma)
      .then(
        (stillEmpty) => {
          empty = stillEmpty;
        },
        (error: unknown) => {
          stopped = true;
          options.logger.warn({ err: error }, 'keeping table statistics failed; they are left to autovacuum');
        },
      )
      .finally(() => {
        running = null;
      });
  };
  check();
  return {
    committed: check,
    async stop() {
      stopped = true;
      await running;
    },
  };
}
