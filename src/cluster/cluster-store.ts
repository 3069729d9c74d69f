/**
 * The cluster's SQL: settings, instance registry and leases, partition
 * ownership with epochs, and the fencing check of writer transactions. Every
 * time is the database's `now()`, never a process clock (CLUSTER-NOTES.md).
 */
import type { PrismaClient } from '../generated/prisma/client.ts';
import type { Db } from '../store/event-store.ts';

/** Channel on which ownership changes are announced (instances re-balance at once). */
export const CLUSTER_CHANNEL = 'sessions_cluster';

/**
 * SQL: instance row `i` is alive. Its lease runs, and, when it named its
 * listener connection, some backend still has that name: a killed process's
 * sockets close at once, so its partitions move without waiting for the
 * lease. A frozen or cut-off process keeps its sockets: the lease decides.
 */
const ALIVE = `(i.lease_until > now() AND (i.backend_name IS NULL OR EXISTS (
  SELECT 1 FROM pg_stat_activity a WHERE a.application_name = i.backend_name)))`;

/** The settings fixed by the first instance started on a database. */
export interface ClusterSettings {
  readonly partitions: number;
  readonly secret: string;
}

/** The settings a start would write when none are stored yet. */
export interface WantedSettings {
  readonly partitions: number;
  /** True when CLUSTER_PARTITIONS was set: a stored value that differs is refused. */
  readonly partitionsExplicit: boolean;
  readonly secret: string;
}

/** A stored setting that this start's configuration contradicts. */
export class ClusterSettingsError extends Error {
  override readonly name = 'ClusterSettingsError';
}

/**
 * Limits of ensureSettings' transaction: the first start on a database from
 * before the cluster writes every stored session's partition in it (1M
 * sessions: about 20 s, where Prisma's default gives up after 5).
 */
const SETTINGS_TRANSACTION = { timeout: 600_000, maxWait: 30_000 } as const;

/**
 * Stores the settings on the first start (and one partition row each), or
 * reads those stored. A CLUSTER_PARTITIONS that differs from the stored count
 * is refused: users were already placed by it.
 */
export async function ensureSettings(prisma: PrismaClient, wanted: WantedSettings): Promise<ClusterSettings> {
  return prisma.$transaction(async (tx) => {
    const created = await tx.$queryRawUnsafe<Array<{ partitions: number }>>(
      `INSERT INTO cluster_settings (id, partitions, secret) VALUES (1, $1::int, $2)
       ON CONFLICT (id) DO NOTHING RETURNING partitions`,
      wanted.partitions,
      wanted.secret,
    );
    const rows = await tx.$queryRawUnsafe<Array<{ partitions: number; secret: string }>>(`SELECT partitions, secret FROM cluster_settings WHERE id = 1`);
    const stored = rows[0] as { partitions: number; secret: string };
    if (wanted.partitionsExplicit && stored.partitions !== wanted.partitions) {
      throw new ClusterSettingsError(
        `CLUSTER_PARTITIONS=${wanted.partitions} differs from the ${stored.partitions} partitions this database was created with; unset it or set it to ${stored.partitions}`,
      );
    }
    await tx.$executeRawUnsafe(
      `INSERT INTO cluster_partitions (partition) SELECT generate_series(0, $1::int - 1) ON CONFLICT (partition) DO NOTHING`,
      stored.partitions,
    );
    if (created.length > 0) {
      // Sessions written before the cluster existed get their partition once.
      await tx.$executeRawUnsafe(`UPDATE sessions SET partition = sessions_partition_of(user_id, $1::int) WHERE partition IS NULL`, stored.partitions);
    }
    return { partitions: stored.partitions, secret: stored.secret };
  }, SETTINGS_TRANSACTION);
}

/**
 * Registers this process (a fresh id per process) with a lease of `leaseMs`;
 * `backendName`: the application_name of a connection it keeps open for its
 * whole life (null: none, the lease alone tells).
 */
export async function register(db: Db, id: string, url: string, leaseMs: number, backendName: string | null): Promise<void> {
  await db.$executeRawUnsafe(
    `INSERT INTO cluster_instances (id, url, lease_until, backend_name) VALUES ($1, $2, now() + $3::int * interval '1 millisecond', $4)`,
    id,
    url,
    leaseMs,
    backendName,
  );
  await notifyCluster(db);
}

/**
 * Renews the lease; returns the instance's fencing generation, or null when
 * its row is gone (it was given up as dead long ago: it must register again).
 */
export async function renewLease(db: Db, id: string, leaseMs: number): Promise<bigint | null> {
  const rows = await db.$queryRawUnsafe<Array<{ generation: string }>>(
    `UPDATE cluster_instances SET last_seen_at = now(), lease_until = now() + $2::int * interval '1 millisecond'
     WHERE id = $1 RETURNING generation::text AS generation`,
    id,
    leaseMs,
  );
  const row = rows[0];
  return row === undefined ? null : BigInt(row.generation);
}

/** Marks the instance as leaving: the others balance without it from now on. */
export async function markLeaving(db: Db, id: string): Promise<void> {
  await db.$executeRawUnsafe(`UPDATE cluster_instances SET leaving = true WHERE id = $1`, id);
  await notifyCluster(db);
}

/** Deletes the instance's row (clean exit, after it released everything). */
export async function deregister(db: Db, id: string): Promise<void> {
  await db.$executeRawUnsafe(`UPDATE cluster_partitions SET owner = NULL, epoch = epoch + 1, changed_at = now() WHERE owner = $1`, id);
  await db.$executeRawUnsafe(`DELETE FROM cluster_instances WHERE id = $1`, id);
  await notifyCluster(db);
}

/**
 * Forgets instances whose lease ended more than `afterMs` ago and that own
 * no partition (others took them over): a crashed process never deletes its
 * row, and every start registers under a new id, so the rows would pile up
 * in the `cluster` query and in every liveness check. A process that was
 * only paused and comes back finds its row gone: its writer's fence fails
 * and it registers again (Ownership.syncForReload), as after any takeover.
 */
export async function forgetDead(db: Db, afterMs: number): Promise<number> {
  return db.$executeRawUnsafe(
    `DELETE FROM cluster_instances i
     WHERE i.lease_until < now() - $1::int * interval '1 millisecond'
       AND NOT EXISTS (SELECT 1 FROM cluster_partitions p WHERE p.owner = i.id)`,
    afterMs,
  );
}

/** A live instance as the balance sees it. */
export interface LiveInstance {
  readonly id: string;
  readonly url: string;
}

/** Instances whose lease runs and that are not leaving, in the order every instance sorts them. */
export async function liveInstances(db: Db): Promise<LiveInstance[]> {
  return db.$queryRawUnsafe<LiveInstance[]>(
    `SELECT id, url FROM cluster_instances i WHERE ${ALIVE} AND NOT leaving ORDER BY started_at, id`,
  );
}

/** A partition and the epoch of its current owner. */
export interface OwnedPartition {
  readonly partition: number;
  readonly epoch: bigint;
}

/** A Postgres array literal of integers. */
function intArray(values: readonly number[]): string {
  return `{${values.join(',')}}`;
}

function owned(rows: Array<{ partition: number; epoch: string }>): OwnedPartition[] {
  return rows.map((r) => ({ partition: r.partition, epoch: BigInt(r.epoch) }));
}

/** A partition just taken, and the instance it was taken from (null: it was free). */
export interface ClaimedPartition extends OwnedPartition {
  readonly from: string | null;
}

/** The partitions stored as owned by `id`. */
export async function ownedBy(db: Db, id: string): Promise<OwnedPartition[]> {
  return owned(
    await db.$queryRawUnsafe<Array<{ partition: number; epoch: string }>>(
      `SELECT partition, epoch::text AS epoch FROM cluster_partitions WHERE owner = $1 ORDER BY partition`,
      id,
    ),
  );
}

/**
 * Takes up to `count` partitions that are free or whose owner's lease ran
 * out (all of them when `count` is null; with `force`, whoever holds them:
 * one process on an embedded database). The previous owners' generation
 * moves, which fences their writer transactions; the lock_timeout keeps a
 * takeover from waiting on a frozen owner's open transaction (it is retried).
 */
export async function claim(prisma: PrismaClient, id: string, count: number | null, force: boolean): Promise<ClaimedPartition[]> {
  if (count !== null && count <= 0) return [];
  // One process on an embedded database has nobody else's connections to end.
  if (!force) await endDeadConnections(prisma);
  const taken = await prisma.$transaction(async (tx) => {
    await tx.$queryRawUnsafe(`SELECT set_config('lock_timeout', '1000ms', true) AS lock_timeout`);
    const free = await tx.$queryRawUnsafe<Array<{ partition: number; owner: string | null }>>(
      `SELECT p.partition, p.owner FROM cluster_partitions p
       WHERE p.owner IS NULL OR (p.owner <> $1 AND (${force ? 'true' : 'false'} OR NOT EXISTS (
         SELECT 1 FROM cluster_instances i WHERE i.id = p.owner AND ${ALIVE})))
       ORDER BY p.partition ${count === null ? '' : 'LIMIT $2::int'}
       FOR UPDATE OF p SKIP LOCKED`,
      ...(count === null ? [id] : [id, count]),
    );
    if (free.length === 0) return [];
    const previous = [...new Set(free.flatMap((r) => (r.owner === null ? [] : [r.owner])))];
    if (previous.length > 0) {
      await tx.$executeRawUnsafe(`UPDATE cluster_instances SET generation = generation + 1 WHERE id = ANY(ARRAY(SELECT jsonb_array_elements_text($1::jsonb)))`, JSON.stringify(previous));
    }
    const rows = await tx.$queryRawUnsafe<Array<{ partition: number; epoch: string }>>(
      `UPDATE cluster_partitions SET owner = $1, epoch = epoch + 1, changed_at = now()
       WHERE partition = ANY($2::int[]) RETURNING partition, epoch::text AS epoch`,
      id,
      intArray(free.map((r) => r.partition)),
    );
    await notifyCluster(tx);
    return owned(rows).map((p) => ({ ...p, from: free.find((r) => r.partition === p.partition)?.owner ?? null }));
  });
  return taken.sort((a, b) => a.partition - b.partition);
}

/**
 * Ends the connections of instances whose lease ran out but which still own
 * partitions: a frozen or cut-off process may hold its fence lock in an open
 * transaction, which would hold the takeover; without its connections it can
 * commit nothing, and it rebuilds its state when it comes back.
 */
async function endDeadConnections(db: Db): Promise<void> {
  // Without the right to end them (another role), the takeover waits for the lock instead.
  await db.$queryRawUnsafe(
    `SELECT count(pg_terminate_backend(a.pid))::int AS ended FROM pg_stat_activity a
     JOIN cluster_instances i ON a.application_name = i.backend_name
     WHERE i.lease_until <= now() AND a.pid <> pg_backend_pid()
       AND EXISTS (SELECT 1 FROM cluster_partitions p WHERE p.owner = i.id)`,
  ).catch(() => undefined);
}

/** Gives partitions up (handover): they become free for the others to claim. */
export async function release(db: Db, id: string, partitions: readonly number[]): Promise<void> {
  if (partitions.length === 0) return;
  await db.$executeRawUnsafe(
    `UPDATE cluster_partitions SET owner = NULL, epoch = epoch + 1, changed_at = now() WHERE owner = $1 AND partition = ANY($2::int[])`,
    id,
    intArray(partitions),
  );
  await notifyCluster(db);
}

/** Where each partition's owner can be reached (null: no live owner right now). */
export async function routes(db: Db): Promise<Array<{ partition: number; owner: string | null; url: string | null }>> {
  return db.$queryRawUnsafe(
    `SELECT p.partition, i.id AS owner, i.url FROM cluster_partitions p
     LEFT JOIN cluster_instances i ON i.id = p.owner AND ${ALIVE}
     ORDER BY p.partition`,
  );
}

/** The writer's transaction was fenced: another instance took one of this instance's partitions. */
export class FencedError extends Error {
  override readonly name = 'FencedError';
  constructor() {
    super('this instance no longer owns every partition it holds in memory; nothing of this group was saved');
  }
}

/**
 * The fencing check, last statement of every writer transaction: the
 * instance's row under FOR SHARE, which conflicts with the UPDATE every
 * takeover of its partitions makes (claim). If the takeover came first, the
 * generation differs and the transaction must roll back; if this came first,
 * the takeover waits until the commit, and the new owner loads after it.
 * Being last, the lock is held only for the commit itself.
 */
export async function checkFence(tx: Db, id: string, generation: bigint): Promise<void> {
  const rows = await tx.$queryRawUnsafe<Array<{ generation: string }>>(
    `SELECT generation::text AS generation FROM cluster_instances WHERE id = $1 FOR SHARE`,
    id,
  );
  const row = rows[0];
  if (row === undefined || BigInt(row.generation) !== generation) throw new FencedError();
}

/** Wakes the other instances' balance loops (delivered at commit). */
async function notifyCluster(db: Db): Promise<void> {
  await db.$queryRawUnsafe(`SELECT pg_notify('${CLUSTER_CHANNEL}', '')::text AS sent`);
}

/** One instance in the admin `cluster` query. */
export interface InstanceRow {
  readonly id: string;
  readonly url: string;
  readonly startedAt: Date;
  readonly lastSeenAt: Date;
  readonly alive: boolean;
  readonly leaving: boolean;
  readonly partitions: number[];
}

/** Every registered instance with the partitions it owns (admin `cluster` query). */
export async function instances(db: Db): Promise<InstanceRow[]> {
  const rows = await db.$queryRawUnsafe<
    Array<{ id: string; url: string; started_at: Date; last_seen_at: Date; alive: boolean; leaving: boolean; partitions: number[] | null }>
  >(
    `SELECT i.id, i.url, i.started_at, i.last_seen_at, ${ALIVE} AS alive, i.leaving,
            (SELECT array_agg(p.partition ORDER BY p.partition) FROM cluster_partitions p WHERE p.owner = i.id) AS partitions
     FROM cluster_instances i ORDER BY i.started_at, i.id`,
  );
  return rows.map((r) => ({
    id: r.id,
    url: r.url,
    startedAt: r.started_at,
    lastSeenAt: r.last_seen_at,
    alive: r.alive,
    leaving: r.leaving,
    partitions: r.partitions ?? [],
  }));
}
