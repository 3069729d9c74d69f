/**
 * The session definitions as the database knows them (session_definitions,
 * definition_build_partitions; docs/definitions.md): which build of each
 * definition the API shows, which one is being built, and the build's
 * progress per user partition.
 */
import type { PrismaClient } from '../generated/prisma/client.ts';
import type { SessionDefinition } from '../definitions/definitions.ts';
import { filterJson } from '../definitions/filter.ts';
import type { Db } from './event-store.ts';
import { pgArray } from './pg-array.ts';

export type DefinitionStatus = 'READY' | 'BUILDING' | 'RETIRED';

/** Advisory lock key that serialises reconciliations of the definitions (several instances starting at once). */
const DEFINITIONS_LOCK = 7_270_737_014;

/** What the writer runs for a definition of the file: the build it writes, and whether that build is the one shown. */
export interface LanePlan {
  readonly definition: SessionDefinition;
  /** sessions.definition of the build it writes. */
  readonly key: string;
  readonly status: 'READY' | 'BUILDING';
}

/** Rules and filter as stored (and shown by the `definitions` query), durations in ms. */
export interface StoredRules {
  readonly gapMs: number;
  readonly maxDurationMs: number;
  readonly conversionEvents: readonly string[];
  readonly engagedMinDurationMs: number;
  readonly engagedMinEvents: number;
  readonly filter: Record<string, unknown> | null;
}

/** One row of session_definitions with its build progress. */
export interface DefinitionRow {
  readonly name: string;
  readonly status: DefinitionStatus;
  readonly rules: StoredRules;
  readonly activeKey: string | null;
  readonly buildingKey: string | null;
  /** Events read by the build so far, and the events stored when it started (null when not building). */
  readonly buildEvents: number | null;
  readonly buildTotal: number | null;
  readonly buildStartedAt: Date | null;
  readonly readyAt: Date | null;
}

export function storedRules(definition: SessionDefinition): StoredRules {
  const r = definition.rules;
  return {
    gapMs: r.gapMs,
    maxDurationMs: r.maxDurationMs,
    conversionEvents: [...r.conversionEvents].sort(),
    engagedMinDurationMs: r.engagedMinDurationMs,
    engagedMinEvents: r.engagedMinEvents,
    filter: filterJson(definition.filter),
  };
}

interface RawRow {
  name: string;
  status: DefinitionStatus;
  rules: StoredRules;
  fingerprint: string;
  active_key: string | null;
  active_fingerprint: string | null;
  building_key: string | null;
  generation: number;
}

/** The key of a definition's n-th build: its name for the first, `name#n` after. */
export function buildKey(name: string, generation: number): string {
  return generation <= 1 ? name : `${name}#${generation}`;
}

/** Drops what an unfinished build wrote (its sessions and progress). */
async function dropBuild(tx: Db, key: string): Promise<void> {
  await tx.$executeRawUnsafe(`DELETE FROM sessions WHERE definition = $1`, key);
  await tx.$executeRawUnsafe(`DELETE FROM definition_build_partitions WHERE build_key = $1`, key);
}

/** Starts a build: a fresh key, no sessions under it, every partition to do. */
async function startBuild(tx: Db, definition: SessionDefinition, generation: number, partitions: number): Promise<string> {
  const key = buildKey(definition.name, generation);
  await dropBuild(tx, key);
  await tx.$executeRawUnsafe(
    `INSERT INTO definition_build_partitions (build_key, partition) SELECT $1, p FROM generate_series(0, $2::int - 1) AS p`,
    key,
    partitions,
  );
  await tx.$executeRawUnsafe(
    `INSERT INTO session_definitions (name, status, rules, fingerprint, building_key, generation, build_total, build_started_at, updated_at)
     VALUES ($1, 'BUILDING', $2::jsonb, $3, $4, $5, (SELECT count(*) FROM events), now(), now())
     ON CONFLICT (name) DO UPDATE SET status = 'BUILDING', rules = EXCLUDED.rules, fingerprint = EXCLUDED.fingerprint,
       building_key = EXCLUDED.building_key, generation = EXCLUDED.generation, build_total = EXCLUDED.build_total,
       build_started_at = EXCLUDED.build_started_at, updated_at = now()`,
    definition.name,
    JSON.stringify(storedRules(definition)),
    definition.fingerprint,
    key,
    generation,
  );
  return key;
}

/**
 * Brings session_definitions in line with the file at start, in one
 * transaction: a definition whose active build has its rules stays READY; one
 * whose rules changed, or that is new (or back from RETIRED), gets a build
 * (an unfinished build of the same rules continues; one of other rules is
 * dropped); a definition no longer in the file is RETIRED (dropped when it
 * never finished a build). Returns what the writer runs, in file order.
 */
export async function reconcileDefinitions(
  prisma: PrismaClient,
  definitions: readonly SessionDefinition[],
  partitions: number,
): Promise<LanePlan[]> {
  return prisma.$transaction(
    async (tx) => {
      await tx.$queryRawUnsafe(`SELECT pg_advisory_xact_lock(${DEFINITIONS_LOCK})::text AS locked`);
      const rows = await tx.$queryRawUnsafe<RawRow[]>(
        `SELECT name, status, rules, fingerprint, active_key, active_fingerprint, building_key, generation FROM session_definitions`,
      );
      const byName = new Map(rows.map((r) => [r.name, r]));
      const plans: LanePlan[] = [];
      for (const definition of definitions) {
        const row = byName.get(definition.name);
        const rules = JSON.stringify(storedRules(definition));
        if (row !== undefined && row.active_key !== null && row.active_fingerprint === null && definition.filter === null) {
          // Sessions stored before definitions existed: cut by the environment's rules, every event (a filtered `default` is rebuilt).
          await tx.$executeRawUnsafe(
            `UPDATE session_definitions SET status = 'READY', rules = $2::jsonb, fingerprint = $3, active_fingerprint = $3, updated_at = now() WHERE name = $1`,
            definition.name,
            rules,
            definition.fingerprint,
          );
          plans.push({ definition, key: row.active_key, status: 'READY' });
          continue;
        }
        if (row !== undefined && row.status !== 'RETIRED' && row.active_key !== null && row.active_fingerprint === definition.fingerprint) {
          if (row.building_key !== null) await dropBuild(tx, row.building_key);
          await tx.$executeRawUnsafe(
            `UPDATE session_definitions SET status = 'READY', rules = $2::jsonb, fingerprint = $3, building_key = NULL,
               build_total = NULL, build_started_at = NULL, updated_at = now() WHERE name = $1`,
            definition.name,
            rules,
            definition.fingerprint,
          );
          plans.push({ definition, key: row.active_key, status: 'READY' });
          continue;
        }
        if (row !== undefined && row.status === 'BUILDING' && row.building_key !== null && row.fingerprint === definition.fingerprint) {
          plans.push({ definition, key: row.building_key, status: 'BUILDING' });
          continue;
        }
        if (row?.building_key != null) await dropBuild(tx, row.building_key);
        const key = await startBuild(tx, definition, (row?.generation ?? 0) + 1, partitions);
        plans.push({ definition, key, status: 'BUILDING' });
      }
      const inFile = new Set(definitions.map((d) => d.name));
      for (const row of rows) {
        if (inFile.has(row.name) || row.status === 'RETIRED') continue;
        if (row.building_key !== null) await dropBuild(tx, row.building_key);
        if (row.active_key === null) {
          await tx.$executeRawUnsafe(`DELETE FROM session_definitions WHERE name = $1`, row.name);
        } else {
          await tx.$executeRawUnsafe(
            `UPDATE session_definitions SET status = 'RETIRED', building_key = NULL, build_total = NULL, build_started_at = NULL, updated_at = now()
             WHERE name = $1`,
            row.name,
          );
        }
      }
      return plans;
    },
    { timeout: 600_000, maxWait: 30_000 },
  );
}

/** The builds the writer runs for the file's definitions as the database has them now (after a reload; no changes). */
export async function loadLanePlans(db: Db, definitions: readonly SessionDefinition[]): Promise<LanePlan[]> {
  const rows = await db.$queryRawUnsafe<RawRow[]>(
    `SELECT name, status, rules, fingerprint, active_key, active_fingerprint, building_key, generation FROM session_definitions`,
  );
  const byName = new Map(rows.map((r) => [r.name, r]));
  return definitions.map((definition) => {
    const row = byName.get(definition.name);
    if (row === undefined) throw new Error(`session definition ${definition.name} is not in the database (reconcileDefinitions runs at start)`);
    if (row.building_key !== null) return { definition, key: row.building_key, status: 'BUILDING' };
    if (row.active_key === null) throw new Error(`session definition ${definition.name} has no build`);
    return { definition, key: row.active_key, status: 'READY' };
  });
}

/** Every definition row with its build progress (the `definitions` query, metrics). */
export async function loadDefinitionRows(db: Db): Promise<DefinitionRow[]> {
  const rows = await db.$queryRawUnsafe<
    Array<{
      name: string;
      status: DefinitionStatus;
      rules: StoredRules;
      active_key: string | null;
      building_key: string | null;
      build_events: string | null;
      build_total: string | null;
      build_started_at: Date | null;
      ready_at: Date | null;
    }>
  >(
    `SELECT d.name, d.status, d.rules, d.active_key, d.building_key, d.build_total::text AS build_total, d.build_started_at, d.ready_at,
       (SELECT sum(p.events)::text FROM definition_build_partitions p WHERE p.build_key = d.building_key) AS build_events
     FROM session_definitions d ORDER BY d.name`,
  );
  return rows.map((r) => ({
    name: r.name,
    status: r.status,
    rules: r.rules,
    activeKey: r.active_key,
    buildingKey: r.building_key,
    buildEvents: r.building_key === null ? null : Number(r.build_events ?? 0),
    buildTotal: r.build_total === null ? null : Number(r.build_total),
    buildStartedAt: r.build_started_at === null ? null : new Date(r.build_started_at),
    readyAt: r.ready_at === null ? null : new Date(r.ready_at),
  }));
}

/** The next users a build step takes, with the span of their events. */
export interface BuildChunk {
  readonly users: ReadonlyArray<{ userId: string; events: number; fromTs: number; toTs: number }>;
  /** True when no user after these is left: the partitions of this step are then done. */
  readonly last: boolean;
}

/**
 * The users after `after` (user_id order; null: from the first) whose events
 * make up at most `maxEvents` (a user is never split: a user with more comes
 * alone), read from the events index.
 */
export async function nextBuildUsers(db: Db, after: string | null, maxEvents: number): Promise<BuildChunk> {
  const rows = await db.$queryRawUnsafe<Array<{ user_id: string; n: number }>>(
    `SELECT user_id, count(*)::int AS n FROM (
       SELECT user_id FROM events ${after === null ? '' : 'WHERE user_id > $2'} ORDER BY user_id LIMIT $1
     ) AS x GROUP BY user_id ORDER BY user_id`,
    ...(after === null ? [maxEvents] : [maxEvents, after]),
  );
  const read = rows.reduce((n, r) => n + r.n, 0);
  const last = read < maxEvents;
  // The last user may have more events beyond the limit: leave it to the next step, unless it is alone.
  const taken = last || rows.length === 1 ? rows : rows.slice(0, -1);
  if (taken.length === 0) return { users: [], last: true };
  const spans = await db.$queryRawUnsafe<Array<{ user_id: string; n: number; lo: number; hi: number }>>(
    `SELECT e.user_id, count(*)::int AS n, (extract(epoch FROM min(e.ts)) * 1000)::float8 AS lo, (extract(epoch FROM max(e.ts)) * 1000)::float8 AS hi
     FROM events e WHERE e.user_id = ANY($1::text[]) GROUP BY e.user_id`,
    pgArray(taken.map((r) => r.user_id)),
  );
  const byUser = new Map(spans.map((s) => [s.user_id, s]));
  return {
    users: taken.map((r) => {
      const s = byUser.get(r.user_id);
      return { userId: r.user_id, events: s?.n ?? r.n, fromTs: Math.round(s?.lo ?? 0), toTs: Math.round(s?.hi ?? 0) };
    }),
    last,
  };
}

/** The partitions of a build still to do among `held` (null: every partition), locked until the commit, with their cursors. */
export async function undonePartitions(db: Db, key: string, held: readonly number[] | null): Promise<Array<{ partition: number; lastUserId: string | null }>> {
  const rows = await db.$queryRawUnsafe<Array<{ partition: number; last_user_id: string | null }>>(
    `SELECT partition, last_user_id FROM definition_build_partitions
     WHERE build_key = $1 AND NOT done ${held === null ? '' : 'AND partition = ANY($2::int[])'}
     ORDER BY partition FOR UPDATE`,
    ...(held === null ? [key] : [key, `{${held.join(',')}}`]),
  );
  return rows.map((r) => ({ partition: r.partition, lastUserId: r.last_user_id }));
}

/** The smallest cursor of the given partitions (SQL collation: user ids compare as Postgres orders them); null when one has none. */
export async function smallestCursor(db: Db, key: string, partitions: readonly number[]): Promise<string | null> {
  const rows = await db.$queryRawUnsafe<Array<{ cursor: string | null; fresh: boolean }>>(
    `SELECT min(last_user_id) AS cursor, bool_or(last_user_id IS NULL) AS fresh FROM definition_build_partitions
     WHERE build_key = $1 AND partition = ANY($2::int[])`,
    key,
    `{${partitions.join(',')}}`,
  );
  const row = rows[0];
  return row === undefined || row.fresh ? null : row.cursor;
}

/**
 * Moves the cursors of `partitions` to `lastUserId` (never back), adds the
 * events read per partition, and marks them done when `done`.
 */
export async function advanceBuild(
  db: Db,
  key: string,
  partitions: readonly number[],
  lastUserId: string | null,
  eventsByPartition: ReadonlyMap<number, number>,
  done: boolean,
): Promise<void> {
  await db.$executeRawUnsafe(
    `UPDATE definition_build_partitions AS p
     SET last_user_id = CASE WHEN $3::text IS NULL THEN p.last_user_id
                             WHEN p.last_user_id IS NULL OR p.last_user_id < $3::text THEN $3::text ELSE p.last_user_id END,
         events = p.events + x.n, done = p.done OR $4::bool
     FROM unnest($2::int[], $5::bigint[]) AS x(partition, n)
     WHERE p.build_key = $1 AND p.partition = x.partition`,
    key,
    `{${partitions.join(',')}}`,
    lastUserId,
    done,
    `{${partitions.map((p) => eventsByPartition.get(p) ?? 0).join(',')}}`,
  );
}

/**
 * Makes a finished build the one the API shows, when every partition is
 * done: in the caller's transaction the definition's row is locked, its
 * previous build's sessions deleted and the new build activated, so readers
 * see the old sessions or the new ones, never a mix. Returns true when it
 * switched (false: some partition is still being built elsewhere).
 */
export async function completeBuild(db: Db, name: string, key: string): Promise<boolean> {
  const rows = await db.$queryRawUnsafe<Array<{ active_key: string | null; building_key: string | null }>>(
    `SELECT active_key, building_key FROM session_definitions WHERE name = $1 FOR UPDATE`,
    name,
  );
  const row = rows[0];
  if (row === undefined || row.building_key !== key) return false;
  const left = await db.$queryRawUnsafe<Array<{ n: number }>>(
    `SELECT count(*)::int AS n FROM definition_build_partitions WHERE build_key = $1 AND NOT done`,
    key,
  );
  if ((left[0]?.n ?? 1) > 0) return false;
  if (row.active_key !== null && row.active_key !== key) await db.$executeRawUnsafe(`DELETE FROM sessions WHERE definition = $1`, row.active_key);
  await db.$executeRawUnsafe(`DELETE FROM definition_build_partitions WHERE build_key = $1`, key);
  await db.$executeRawUnsafe(
    `UPDATE session_definitions SET status = 'READY', active_key = building_key, active_fingerprint = fingerprint, building_key = NULL,
       build_total = NULL, build_started_at = NULL, ready_at = now(), updated_at = now()
     WHERE name = $1`,
    name,
  );
  return true;
}
