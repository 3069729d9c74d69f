import type { PrismaClient } from '../generated/prisma/client.ts';
import type { Logger } from '../logger.ts';
import type { Db } from '../store/event-store.ts';
import {
  checkFence,
  claim,
  deregister,
  forgetDead,
  liveInstances,
  markLeaving,
  ownedBy,
  register,
  release,
  renewLease,
  routes,
  type ClaimedPartition,
} from './cluster-store.ts';
import { planBalance } from './balance.ts';

/**
 * A partition this instance holds: `loading` (claimed, its state not yet in
 * the writer's memory; events for it may queue, they are applied after the
 * load), `ready`, or `releasing` (being handed over: no new events for it).
 */
type PartitionState = 'loading' | 'ready' | 'releasing';

/**
 * How long the `cluster` query keeps showing a dead instance (alive false)
 * once others own its partitions, and how often the balance loop forgets
 * older ones (forgetDead).
 */
const DEAD_INSTANCE_KEPT_MS = 3_600_000;
const FORGET_DEAD_EVERY_MS = 60_000;

/** The instance's lifecycle in the cluster. */
type Phase = { readonly name: 'created' } | { readonly name: 'running' } | { readonly name: 'leaving' } | { readonly name: 'stopped' };

/** Where a partition's events go. */
export type Route = { readonly kind: 'self' } | { readonly kind: 'remote'; readonly instance: string; readonly url: string } | { readonly kind: 'none' };

/** What ownership reports (metrics and logs). */
export interface OwnershipObserver {
  /** Partitions taken: from dead instances (failover) or free ones. */
  claimed(count: number, failover: boolean): void;
  /** Partitions handed over to the others. */
  released(count: number): void;
}

export interface OwnershipOptions {
  readonly prisma: PrismaClient;
  readonly partitions: number;
  /** Longest a dead instance's partitions stay unowned (CLUSTER_FAILOVER), ms. */
  readonly failoverMs: number;
  /** One process on an embedded database: take every partition, whoever held it. */
  readonly solo: boolean;
  readonly newId: () => string;
  /** application_name of a connection this process keeps open (its listener); null: none. */
  readonly backendName: string | null;
  readonly logger: Logger;
  readonly observer?: OwnershipObserver;
  /** True while the writer has work waiting and has not committed for a while: the lease is then not renewed. */
  readonly writerStuck: () => boolean;
}

/**
 * Partition ownership of this instance (DESIGN.md, Cluster): registration,
 * lease renewal, balancing (claim up to an even share, hand the excess over),
 * the fencing generation its writer checks, and where every partition's
 * events go. The writer's memory follows `held()`: every change of the held
 * set goes through `reloadWriter`, which rebuilds it after the jobs queued
 * before.
 */
export class Ownership {
  private instanceId: string;
  /** The generation the writer's memory was built for (the fence). */
  private generation = 0n;
  private readonly held = new Map<number, PartitionState>();
  private routeTable: Route[] = [];
  private phase: Phase = { name: 'created' };
  private serial: Promise<void> = Promise.resolve();
  private balanceTimer: NodeJS.Timeout | null = null;
  private leaseTimer: NodeJS.Timeout | null = null;
  private peers = false;
  /** When the balance loop next forgets long-dead instances (ms). */
  private forgetAt = 0;
  private reloadWriter: () => Promise<void> = async () => undefined;
  private readonly leaseMs: number;
  /** How the other instances reach this one (known once the server listens). */
  private url = '';

  constructor(private readonly options: OwnershipOptions) {
    this.instanceId = options.newId();
    // A lease well inside the failover bound: expiry, then at most one balance period, then the claim.
    this.leaseMs = Math.max(1_000, Math.round(options.failoverMs * 0.6));
  }

  /** This process's instance id (unique per process). */
  id(): string {
    return this.instanceId;
  }

  /** Whether another live instance has been seen since the start. */
  hasPeers(): boolean {
    return this.peers;
  }

  /**
   * Registers under `url` (how the others reach this instance), claims a
   * first share, starts the lease and balance timers. `reloadWriter` rebuilds
   * the writer's memory for heldPartitions().
   */
  async start(url: string, reloadWriter: () => Promise<void>): Promise<void> {
    this.url = url;
    this.reloadWriter = reloadWriter;
    await register(this.options.prisma, this.instanceId, url, this.leaseMs, this.options.backendName);
    this.phase = { name: 'running' };
    this.options.logger.info({ instance: this.instanceId, url }, 'cluster: instance registered');
    await this.poke();
    this.leaseTimer = setInterval(() => void this.renew(), Math.max(250, Math.round(this.leaseMs / 4)));
    this.leaseTimer.unref();
    this.balanceTimer = setInterval(() => void this.poke(), Math.max(250, Math.round(this.options.failoverMs / 10)));
    this.balanceTimer.unref();
  }

  /** Balances now (another instance joined, left or released partitions). */
  poke(): Promise<void> {
    return this.serialized(() => this.balance());
  }

  /** Partitions whose state the writer must hold (loading and ready). */
  heldPartitions(): number[] {
    return [...this.held].filter(([, state]) => state !== 'releasing').map(([p]) => p).sort((a, b) => a - b);
  }

  /** True when this instance holds every partition (one instance: nothing is forwarded). */
  holdsAll(): boolean {
    return this.heldPartitions().length === this.options.partitions;
  }

  /** True when events of `partition` may be queued here. */
  holds(partition: number): boolean {
    const state = this.held.get(partition);
    return state === 'loading' || state === 'ready';
  }

  /** False while a claimed partition's state is still being loaded (readiness). */
  loaded(): boolean {
    for (const state of this.held.values()) if (state === 'loading') return false;
    return this.phase.name === 'running';
  }

  /** Where the events of `partition` go, as last read. */
  route(partition: number): Route {
    if (this.holds(partition)) return { kind: 'self' };
    const route = this.routeTable[partition] ?? { kind: 'none' };
    // The table may still name this instance for a partition it is handing over: wait for the new owner.
    return route.kind === 'self' ? { kind: 'none' } : route;
  }

  /** Reads the routing table again (after a forward was refused). */
  async refreshRoutes(): Promise<void> {
    const rows = await routes(this.options.prisma);
    this.routeTable = rows.map((r): Route => {
      if (r.owner === null || r.url === null) return { kind: 'none' };
      if (r.owner === this.instanceId) return { kind: 'self' };
      return { kind: 'remote', instance: r.owner, url: r.url };
    });
  }

  /** The writer's fencing check (first statement of its transactions). */
  fence(tx: Db): Promise<void> {
    return checkFence(tx, this.instanceId, this.generation);
  }

  /**
   * Re-reads what this instance owns and its generation, for a rebuild of the
   * writer's memory (called by the writer's reload, never concurrently with
   * its transactions). Partitions taken by others are dropped; a row given up
   * for dead registers again under a new id.
   */
  async syncForReload(): Promise<number[]> {
    const { prisma } = this.options;
    let generation = await renewLease(prisma, this.instanceId, this.leaseMs);
    if (generation === null) {
      const old = this.instanceId;
      this.instanceId = this.options.newId();
      this.held.clear();
      await register(prisma, this.instanceId, this.url, this.leaseMs, this.options.backendName);
      this.options.logger.warn({ instance: this.instanceId, previous: old }, 'cluster: registration was lost; registered again');
      generation = 0n;
    }
    const stored = new Set((await ownedBy(prisma, this.instanceId)).map((p) => p.partition));
    for (const p of [...this.held.keys()]) {
      if (!stored.has(p)) {
        this.held.delete(p);
        this.options.logger.warn({ partition: p }, 'cluster: partition was taken by another instance');
      }
    }
    for (const p of stored) if (!this.held.has(p)) this.held.set(p, 'loading');
    this.generation = generation;
    return this.heldPartitions();
  }

  /** The writer rebuilt its memory for heldPartitions(): they are ready. */
  markLoaded(partitions: readonly number[]): void {
    for (const p of partitions) if (this.held.get(p) === 'loading') this.held.set(p, 'ready');
  }

  /**
   * SIGTERM: stop balancing, hand every partition over (after the writer
   * finished what was queued for them), so the others own them at once.
   */
  async leave(): Promise<void> {
    if (this.phase.name !== 'running') return;
    this.phase = { name: 'leaving' };
    this.stopTimers();
    await this.serial;
    const { prisma } = this.options;
    await markLeaving(prisma, this.instanceId);
    // Alone, there is nobody to hand over to: the writer drains and the partitions are freed at deregistration.
    if ((await liveInstances(prisma)).length === 0) return;
    const giving = this.heldPartitions();
    for (const p of giving) this.held.set(p, 'releasing');
    await this.reloadWriter();
    await release(prisma, this.instanceId, giving);
    for (const p of giving) this.held.delete(p);
    this.options.observer?.released(giving.length);
    this.options.logger.info({ partitions: giving.length }, 'cluster: partitions handed over');
  }

  /** Removes the instance's row (after leave and the writer's stop). */
  async stop(): Promise<void> {
    this.stopTimers();
    if (this.phase.name === 'stopped') return;
    this.phase = { name: 'stopped' };
    await deregister(this.options.prisma, this.instanceId).catch((error: unknown) =>
      this.options.logger.warn({ err: error }, 'cluster: could not deregister (the lease will expire)'),
    );
  }

  private stopTimers(): void {
    if (this.leaseTimer !== null) clearInterval(this.leaseTimer);
    if (this.balanceTimer !== null) clearInterval(this.balanceTimer);
    this.leaseTimer = null;
    this.balanceTimer = null;
  }

  private serialized(step: () => Promise<void>): Promise<void> {
    const next = this.serial.then(step).catch((error: unknown) => this.options.logger.warn({ err: error }, 'cluster: balancing failed; retrying'));
    this.serial = next;
    return next;
  }

  private async renew(): Promise<void> {
    if (this.phase.name !== 'running') return;
    if (this.options.writerStuck()) {
      this.options.logger.warn('cluster: the writer makes no progress; lease not renewed');
      return;
    }
    try {
      const generation = await renewLease(this.options.prisma, this.instanceId, this.leaseMs);
      // Another instance took a partition (this one was presumed dead): rebuild now rather than at the next write.
      if (generation !== this.generation) void this.serialized(() => this.reloadWriter());
    } catch (error) {
      this.options.logger.warn({ err: error }, 'cluster: lease renewal failed');
    }
  }

  private async balance(): Promise<void> {
    if (this.phase.name !== 'running') return;
    const { prisma, partitions, logger } = this.options;
    if (this.options.solo) {
      if (!this.holdsAll()) await this.take(await claim(prisma, this.instanceId, null, true));
      return;
    }
    if (Date.now() >= this.forgetAt) {
      this.forgetAt = Date.now() + FORGET_DEAD_EVERY_MS;
      const forgotten = await forgetDead(prisma, DEAD_INSTANCE_KEPT_MS);
      if (forgotten > 0) logger.info({ instances: forgotten }, 'cluster: forgot instances dead for over an hour');
    }
    const live = await liveInstances(prisma);
    if (live.length > 1) this.peers = true;
    const step = planBalance(this.instanceId, live, this.heldPartitions(), partitions);
    switch (step.kind) {
      case 'rejoin':
        // The lease ran out (a pause, a cut): renew and rebuild before anything else.
        await this.reloadWriter();
        return;
      case 'claim':
        await this.take(await claim(prisma, this.instanceId, step.count, false));
        break;
      case 'release': {
        const giving = step.partitions;
        for (const p of giving) this.held.set(p, 'releasing');
        await this.reloadWriter();
        await release(prisma, this.instanceId, giving);
        for (const p of giving) this.held.delete(p);
        this.options.observer?.released(giving.length);
        logger.info({ partitions: giving, instances: live.length }, 'cluster: partitions handed over');
        break;
      }
      case 'steady':
        break;
      default:
        throw new Error(`unknown balance step ${(step satisfies never) as string}`);
    }
    await this.refreshRoutes();
  }

  private async take(claimed: readonly ClaimedPartition[]): Promise<void> {
    if (claimed.length === 0) return;
    for (const c of claimed) this.held.set(c.partition, 'loading');
    const failovers = claimed.filter((c) => c.from !== null);
    if (failovers.length > 0) this.options.observer?.claimed(failovers.length, true);
    if (claimed.length > failovers.length) this.options.observer?.claimed(claimed.length - failovers.length, false);
    this.options.logger.info(
      { partitions: claimed.map((c) => c.partition), from: [...new Set(failovers.map((c) => c.from))] },
      failovers.length > 0 ? 'cluster: partitions taken over from a dead instance' : 'cluster: partitions claimed',
    );
    await this.reloadWriter();
  }
}
