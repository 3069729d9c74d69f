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
export const FIRST_STATISTICS_TABLES = ['sessions', 'events', 'session_facts'] as const;

/**
 * Runs ANALYZE on each of `tables` that has rows but no statistics yet, and
 * returns those still empty (to be checked again). A table that has rows is
 * analyzed once, whatever comes of it: a role that does not own it gets a
 * warning from Postgres, not statistics, and is not asked again.
 */
export async function analyzeNewTables(prisma: PrismaClient, tables: readonly string[] = FIRST_STATISTICS_TABLES): Promise<string[]> {
  const rows = await prisma.$queryRawUnsafe<Array<{ name: string; analyzed: boolean }>>(
    `SELECT t.name, EXISTS (SELECT 1 FROM pg_stats AS s WHERE s.schemaname = current_schema() AND s.tablename = t.name) AS analyzed
     FROM unnest($1::text[]) WITH ORDINALITY AS t(name, i) ORDER BY t.i`,
    tables,
  );
  const empty: string[] = [];
  for (const { name, analyzed } of rows) {
    if (analyzed) continue;
    if (!(FIRST_STATISTICS_TABLES as readonly string[]).includes(name)) throw new Error(`not a table of the service: ${name}`);
    const filled = await prisma.$queryRawUnsafe<Array<{ filled: boolean }>>(`SELECT EXISTS (SELECT 1 FROM "${name}") AS filled`);
    if (filled[0]?.filled === true) await prisma.$executeRawUnsafe(`ANALYZE "${name}"`);
    else empty.push(name);
  }
  return empty;
}

/**
 * Analyzes the new tables of the service's database: once at start (a
 * database that has statistics is done then), and after each commit while a
 * table is still empty (`committed`: rows only ever arrive by commits). One
 * check at a time; nothing runs once every table was analyzed. A failure is
 * logged once and the service leaves statistics to autovacuum.
 */
export function startFirstStatistics(prisma: PrismaClient, options: { logger: Logger }): { committed(): void; stop(): Promise<void> } {
  let waiting: readonly string[] = FIRST_STATISTICS_TABLES;
  let running: Promise<void> | null = null;
  let stopped = false;
  const check = (): void => {
    if (stopped || running !== null || waiting.length === 0) return;
    running = analyzeNewTables(prisma, waiting)
      .then(
        (empty) => {
          waiting = empty;
        },
        (error: unknown) => {
          waiting = [];
          options.logger.warn({ err: error }, 'analyzing the new tables failed; their statistics are left to autovacuum');
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
