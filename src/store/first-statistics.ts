import type { PrismaClient } from '../generated/prisma/client.ts';
import type { Logger } from '../logger.ts';

/**
 * The tables whose first rows get statistics at once: the writer's
 * statements look up a user's sessions and events by correlated subqueries,
 * and without statistics Postgres takes `definition = $1` to select 0.5% of
 * the rows, as selective as `user_id = $2`. On a new database (autovacuum
 * analyzes a table a minute or more after its first rows, and not at all
 * where it is off) it then read a user's previous session through the
 * (definition, started_at) index, filtering every session of the
 * definition for the user: the second commit of a backfill, 5,357 sessions
 * over a few thousand stored, took 3.3 s instead of about 0.1 s. Statistics
 * from the first rows stay right about what matters here (a few
 * definitions, many users) as the table grows.
 */
const TABLES = ['sessions', 'events', 'session_facts'] as const;

/**
 * How often a service checks, until every table has statistics: soon after
 * the first commit, before the next ones are planned (checked every 500 ms,
 * the second commit of a new database still ran its 0.6-3.6 s plan). One
 * small query per check on an idle new database.
 */
export const FIRST_STATISTICS_INTERVAL_MS = 100;

/**
 * Runs ANALYZE on each of {@link TABLES} that has rows but no statistics yet.
 * Resolves true when every table has statistics (nothing left to do).
 */
export async function analyzeNewTables(prisma: PrismaClient): Promise<boolean> {
  const rows = await prisma.$queryRawUnsafe<Array<{ name: string; analyzed: boolean }>>(
    `SELECT t.name, EXISTS (SELECT 1 FROM pg_stats AS s WHERE s.schemaname = current_schema() AND s.tablename = t.name) AS analyzed
     FROM unnest($1::text[]) AS t(name)`,
    TABLES,
  );
  let done = true;
  for (const { name, analyzed } of rows) {
    if (analyzed) continue;
    // The names come from TABLES, never from input.
    const filled = await prisma.$queryRawUnsafe<Array<{ filled: boolean }>>(`SELECT EXISTS (SELECT 1 FROM "${name}") AS filled`);
    if (filled[0]?.filled === true) await prisma.$executeRawUnsafe(`ANALYZE "${name}"`);
    else done = false;
  }
  return done;
}

/**
 * Checks every interval, from now, until every table has statistics; on a
 * database that already has them, one query at startup. stop() waits for a
 * check under way.
 */
export function startFirstStatistics(prisma: PrismaClient, options: { logger: Logger; intervalMs?: number }): { stop(): Promise<void> } {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const check = async (): Promise<void> => {
    const done = await analyzeNewTables(prisma).catch((error: unknown) => {
      options.logger.warn({ err: error }, 'analyzing new tables failed; next check retries');
      return false;
    });
    if (done || stopped) return;
    timer = setTimeout(() => void (running = check()), options.intervalMs ?? FIRST_STATISTICS_INTERVAL_MS);
    timer.unref();
  };
  let running: Promise<void> = check();
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
