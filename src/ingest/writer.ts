import type { FencedError } from '../cluster/cluster-store.ts';
import type { Logger } from '../logger.ts';
import type { PrismaClient } from '../generated/prisma/client.ts';
import { CodedError, ErrorCode } from '../errors.ts';
import type { SessionEvent } from '../sessionizer/types.ts';
import type { Db } from '../store/event-store.ts';
import { PgSessionStore, type CommittedChange } from '../store/pg-session-store.ts';
import { planWrites, saveMaxEventTs } from '../store/session-writes.ts';
import { AdmissionRefused, Throughput } from './admission.ts';
import { classifyFailure, GroupAborted, InjectedFault, planAfterFault, type FailureCause } from './group-failure.ts';
import type { BuildOutcome } from './definition-build.ts';
import type { Lanes } from './lanes.ts';
import type { ValidEvent } from './validate.ts';

/** One queued request of the single writer. */
type Job =
  | { readonly kind: 'ingest'; readonly events: readonly ValidEvent[]; readonly done: Settle<{ accepted: number; duplicates: number }> }
  | { readonly kind: 'flush'; readonly before: number | null; readonly done: Settle<number> }
  | { readonly kind: 'tick' }
  /** Rebuild memory from the database (the partitions held changed); never part of a group. */
  | { readonly kind: 'reload'; readonly done: Settle<void> }
  /** One step of building a definition from the stored events (definition-build.ts); a transaction of its own. */
  | { readonly kind: 'build' };

/** A job that answers a caller. */
type Work = Extract<Job, { kind: 'ingest' | 'flush' }>;

/**
 * An entry of the queue: a job, or jobs put back after a fault that must be
 * committed as one group of their own (see planAfterFault).
 */
type Entry = Job | { readonly kind: 'pinned'; readonly jobs: readonly Work[]; readonly failures: number };

/** The jobs one transaction takes, and how often they already failed together. */
interface Group {
  readonly jobs: readonly Job[];
  readonly failures: number;
}

interface Settle<T> {
  resolve(value: T): void;
  reject(error: unknown): void;
}

/**
 * Longest delay setTimeout honours (2^31 - 1 ms, about 24.8 days): a longer one
 * fires at once. A far deadline just wakes the writer early: the tick closes
 * nothing and the timer is set again.
 */
const MAX_TIMER_MS = 2_147_483_647;

function unavailable(): CodedError {
  return new CodedError(ErrorCode.Unavailable, 'the database is unavailable; nothing of this request was saved, retry later');
}

/** The answer of the one mutation a fault was isolated to. */
function faulted(): CodedError {
  return new CodedError(
    ErrorCode.Internal,
    'this request could not be processed because of an internal error (logged on the server); nothing of it was saved, and sending it unchanged will fail again',
  );
}

const isWork = (job: Job): job is Work => job.kind === 'ingest' || job.kind === 'flush';
const eventsOf = (jobs: readonly Job[]): number => jobs.reduce((n, j) => n + (j.kind === 'ingest' ? j.events.length : 0), 0);

/** What the writer reports about each group commit (metrics). */
export interface WriterObserver {
  /** A group committed: its duration, the mutations and events it took, the users recomputed from the store. */
  committed(commit: { readonly seconds: number; readonly mutations: number; readonly events: number; readonly corrections: number }): void;
  /** A group commit failed and was rolled back (by a fault, or with the database unavailable). */
  failed(): void;
  /** An ingest of `events` events was refused by admission control (MAX_QUEUED_EVENTS). */
  admissionRefused(events: number): void;
  /** Memory was rebuilt from the database (after a failed commit, or the partitions held changed). */
  rebuilt(): void;
  /** A callback after a commit (`callback` names it) threw; the commit stands. */
  callbackFailed(callback: string): void;
  /** A step of a definition build committed. */
  built?(outcome: BuildOutcome, seconds: number): void;
}

/** Largest event timestamp of a group, or null when it has none. */
function maxTsOf(events: readonly SessionEvent[]): number | null {
  let max = Number.NEGATIVE_INFINITY;
  for (const e of events) if (e.ts > max) max = e.ts;
  return events.length === 0 ? null : max;
}

/** How a group's transaction ended. */
type Outcome =
  | { readonly kind: 'committed' }
  | { readonly kind: 'failed'; readonly cause: FailureCause; readonly group: Group; readonly error: unknown };

const COMMITTED: Outcome = { kind: 'committed' };

/** What handling the failures of a turn did to memory. */
type Settled = 'nothing-failed' | 'rebuilt' | 'stopped';

/** Writer lifecycle. */
type Phase = { readonly name: 'running' } | { readonly name: 'stopping'; readonly drained: Promise<void> } | { readonly name: 'stopped' };

export interface WriterOptions {
  readonly prisma: PrismaClient;
  /** The session definitions, each with its sessionizer. */
  readonly lanes: Lanes;
  readonly allowedLatenessMs: number;
  /** Most events taken into one transaction (whole mutations are never split). */
  readonly maxEventsPerCommit: number;
  /** The cluster's partition count (stored with each session). */
  readonly partitions: number;
  /**
   * Last statement of every writer transaction: throws FencedError when this
   * instance lost a partition it holds in memory (the transaction rolls back).
   */
  readonly fence?: (tx: Db) => Promise<void>;
  /** Runs before the fence, with the group's saved changes (cluster announcements). */
  readonly beforeCommit?: (tx: Db, saved: readonly CommittedChange[]) => Promise<void>;
  /** Called after each commit with the committed changes, in order. */
  readonly onCommit: (changes: readonly CommittedChange[]) => void;
  /** Builds the lanes from the database again (after a failed commit, memory may be ahead of it; or the partitions held changed). */
  readonly reload: () => Promise<Lanes>;
  readonly logger: Logger;
  /** Told about every group commit; none by default. */
  readonly observer?: WriterObserver;
  readonly now?: () => number;
  /**
   * Let the next group's transaction open while the previous one commits
   * (see loop). It holds a second connection meanwhile: only worth it, and
   * only safe from waiting out Prisma's connection timeout, when the pool has
   * connections to spare. Default false.
   */
  readonly overlap?: boolean;
  /** Interactive transaction timeout (ms). Default 60 s. */
  readonly transactionTimeoutMs?: number;
  /**
   * Most events accepted and not yet answered (waiting, or in a group being
   * committed); an ingest past it is refused at once with AdmissionRefused.
   * A batch arriving at an empty writer is always taken. Default: no bound.
   */
  readonly maxQueuedEvents?: number;
  /** TEST ONLY: a group holding this eventId fails after the sessionizer ran (a bug's stand-in). */
  readonly faultEventId?: string | null;
  /**
   * One step of building the definitions whose lanes do not announce yet
   * (see definition-build.ts), run in a transaction of its own between
   * groups while there is work left; none: nothing is ever built.
   */
  readonly build?: (tx: Db, lanes: Lanes, store: PgSessionStore, nowMs: number) => Promise<BuildOutcome>;
}

/** Wait before a failed build step is tried again (memory was rebuilt meanwhile). */
const BUILD_RETRY_MS = 1_000;

/**
 * The single writer with group commit. Mutations, flushes and timer ticks
 * queue here; the loop takes everything waiting (up to maxEventsPerCommit),
 * applies it to the sessionizer in queue order and commits the new events and
 * every session change in one transaction; only then does each caller get
 * its answer and are the changes announced. If the commit fails, the memory
 * is rebuilt from the database and every caller of that group gets an error.
 */
export class Writer {
  private queue: Entry[] = [];
  /** Wall-clock ms of the last commit, or of the moment the queue became non-empty (see stuck). */
  private progressAt = Date.now();
  private queuedEvents = 0;
  /** Events of ingest calls admitted and not yet answered (admission control). */
  private pendingEvents = 0;
  private readonly throughput = new Throughput();
  private recovering = false;
  private phase: Phase = { name: 'running' };
  private running = false;
  /** Told each time the loop ends (drain). */
  private idleWaiters: Array<() => void> = [];
  private timer: NodeJS.Timeout | null = null;
  private timerAt = Number.POSITIVE_INFINITY;
  private lanes: Lanes;
  private readonly now: () => number;
  /** Resolves when stop() is called: cuts short the waits between recovery attempts. */
  private readonly stopRequested: Promise<void>;
  private requestStop: () => void = () => undefined;
  /** A build step is queued (at most one at a time). */
  private buildQueued = false;
  /** Set for BUILD_RETRY_MS after a build step failed. */
  private buildPaused = false;

  constructor(private readonly options: WriterOptions) {
    this.stopRequested = new Promise((resolve) => (this.requestStop = resolve));
    this.lanes = options.lanes;
    this.now = options.now ?? Date.now;
  }

  /** False while the writer rebuilds its state after a failed commit (readiness). */
  healthy(): boolean {
    return !this.recovering;
  }

  /** Events waiting for a commit (metrics). */
  queueDepth(): number {
    return this.queuedEvents;
  }

  /** OPEN sessions held in memory (metrics). */
  openSessions(): number {
    return this.lanes.openCount();
  }

  /** True when work has waited over `ms` without a commit (the cluster lease is then not renewed). */
  stuck(ms: number): boolean {
    return (this.running || this.queue.length > 0) && this.now() - this.progressAt > ms;
  }

  /**
   * Rebuilds memory from the database after every job queued before (the
   * partitions this instance holds changed). Resolves once it is done.
   */
  reloadState(): Promise<void> {
    return new Promise((resolve, reject) => this.enqueue({ kind: 'reload', done: { resolve, reject } }));
  }

  /**
   * Starts the quiet-user timer (the queue itself needs no start). Definition
   * builds start with the first reload (memory holds no partition before).
   */
  start(): void {
    this.schedule();
  }

  /** The lanes in use (the service marks a definition ready once another instance finished its build). */
  currentLanes(): Lanes {
    return this.lanes;
  }

  /** Queues a build step when some definition is being built and none is queued. */
  private scheduleBuild(): void {
    if (this.buildQueued || this.buildPaused || this.options.build === undefined || this.phase.name !== 'running' || this.recovering) return;
    if (this.lanes.list.every((lane) => lane.announce)) return;
    this.buildQueued = true;
    this.enqueue({ kind: 'build' });
  }

  /** Queues events; resolves once they and their session changes are committed. */
  ingest(events: readonly ValidEvent[]): Promise<{ accepted: number; duplicates: number }> {
    return new Promise((resolve, reject) => this.enqueue({ kind: 'ingest', events, done: { resolve, reject } }));
  }

  /** Events admitted and not yet answered: waiting, or in a group being committed (admission control). */
  pending(): number {
    return this.pendingEvents;
  }

  /**
   * While the writer holds maxQueuedEvents or more, the ms a client should
   * wait before sending again; null when it takes work. Lets the HTTP edge
   * refuse a large ingest before reading its body (src/server/admission-gate.ts).
   */
  overloaded(): number | null {
    const limit = this.options.maxQueuedEvents ?? Number.POSITIVE_INFINITY;
    return this.pendingEvents >= limit ? this.throughput.retryAfterMs(this.pendingEvents) : null;
  }

  /**
   * Counts an admitted ingest until it is answered, or refuses it (null)
   * when it would take the writer past maxQueuedEvents.
   */
  private admit(job: Extract<Job, { kind: 'ingest' }>): Job | null {
    const limit = this.options.maxQueuedEvents ?? Number.POSITIVE_INFINITY;
    const size = job.events.length;
    if (this.pendingEvents > 0 && this.pendingEvents + size > limit) {
      this.call('observer.admissionRefused', () => this.options.observer?.admissionRefused(size));
      job.done.reject(AdmissionRefused.of(this.throughput.retryAfterMs(this.pendingEvents), this.pendingEvents, limit));
      return null;
    }
    this.pendingEvents += size;
    const release = (): void => {
      this.pendingEvents -= size;
    };
    return {
      ...job,
      done: {
        resolve: (value: { accepted: number; duplicates: number }) => (release(), job.done.resolve(value)),
        reject: (error) => (release(), job.done.reject(error)),
      },
    };
  }

  /** Queues a flush of OPEN sessions ended before `before` (all when null). */
  flush(before: number | null): Promise<number> {
    return new Promise((resolve, reject) => this.enqueue({ kind: 'flush', before, done: { resolve, reject } }));
  }

  /** Refuses new work, finishes everything queued, stops the timer. */
  async stop(): Promise<void> {
    switch (this.phase.name) {
      case 'stopped':
        return;
      case 'stopping':
        return this.phase.drained;
      case 'running': {
        if (this.timer !== null) clearTimeout(this.timer);
        this.timer = null;
        const drained = this.drain();
        this.phase = { name: 'stopping', drained };
        this.requestStop();
        await drained;
        this.phase = { name: 'stopped' };
        return;
      }
    }
  }

  /** Resolves once the loop has ended with nothing queued. */
  private async drain(): Promise<void> {
    while (this.running || this.queue.length > 0) {
      await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    }
  }

  private enqueue(job: Job): void {
    if (job.kind === 'build' && (this.phase.name !== 'running' || this.recovering)) {
      this.buildQueued = false;
      return;
    }
    if (this.phase.name !== 'running' && job.kind !== 'tick' && job.kind !== 'build') {
      job.done.reject(new CodedError(ErrorCode.ShuttingDown, 'the service is shutting down; retry on another instance'));
      return;
    }
    if (this.recovering && job.kind !== 'tick' && job.kind !== 'build') {
      job.done.reject(unavailable());
      return;
    }
    const admitted = job.kind === 'ingest' ? this.admit(job) : job;
    if (admitted === null) return;
    if (!this.running && this.queue.length === 0) this.progressAt = this.now();
    this.queue.push(admitted);
    if (admitted.kind === 'ingest') this.queuedEvents += admitted.events.length;
    if (!this.running) {
      this.loop().catch((error: unknown) => this.options.logger.error({ err: error }, 'writer loop ended by an unexpected error'));
    }
  }

  /** Runs a callback after a commit: what it throws is logged and counted, never the writer's end. */
  private call(name: string, callback: () => void): void {
    try {
      callback();
    } catch (error) {
      this.options.logger.error({ err: error, callback: name }, 'a callback of the writer failed; the commit stands');
      try {
        this.options.observer?.callbackFailed(name);
      } catch {
        // The metric is best effort; the log line above has it.
      }
    }
  }

  /**
   * Commits groups in queue order, two at a time: while one finishes (its
   * session writes, corrections and COMMIT), the next one's transaction is
   * already open and its events are being inserted, on another connection.
   * The next group touches memory, and commits, only once the first has
   * committed (see commitGroup); if the first fails, the next one is rolled
   * back too, and both are handled together once over (see settle).
   */
  private async loop(): Promise<void> {
    this.running = true;
    try {
      let previous: Promise<Outcome> = Promise.resolve(COMMITTED);
      for (;;) {
        if (this.queue.length === 0) {
          // Jobs queued while the last group commits are taken on the next turn.
          await this.settle([await previous]);
          previous = Promise.resolve(COMMITTED);
          if (this.queue.length === 0) break;
          continue;
        }
        const head = this.queue[0] as Entry;
        if (head.kind === 'reload') {
          this.queue.shift();
          const settled = await this.settle([await previous]);
          previous = Promise.resolve(COMMITTED);
          // Handling a failure rebuilds memory too; otherwise rebuild it now.
          const ok = settled === 'nothing-failed' ? await this.rebuild() : settled === 'rebuilt';
          if (ok) head.done.resolve();
          else head.done.reject(unavailable());
          continue;
        }
        if (head.kind === 'build') {
          this.queue.shift();
          const settled = await this.settle([await previous]);
          previous = Promise.resolve(COMMITTED);
          if (settled !== 'stopped') await this.commitBuild();
          else this.buildQueued = false;
          continue;
        }
        let inserted: () => void = () => undefined;
        const stored = new Promise<void>((resolve) => (inserted = resolve));
        const current = this.commitGroup(this.takeGroup(), previous, inserted);
        await (this.options.overlap === true ? Promise.race([stored, current]) : current);
        // At most two transactions open: the one before must be over.
        const before = await previous;
        if (before.kind === 'failed') {
          await this.settle([before, await current]);
          previous = Promise.resolve(COMMITTED);
          continue;
        }
        previous = current;
      }
    } finally {
      this.running = false;
      for (const wake of this.idleWaiters.splice(0)) wake();
      this.schedule();
    }
  }

  private takeGroup(): Group {
    const head = this.queue[0];
    if (head?.kind === 'pinned') {
      this.queue.shift();
      this.queuedEvents -= eventsOf(head.jobs);
      return { jobs: head.jobs, failures: head.failures };
    }
    const group: Job[] = [];
    let events = 0;
    while (this.queue.length > 0) {
      const next = this.queue[0] as Entry;
      if (next.kind === 'reload' || next.kind === 'pinned' || next.kind === 'build') break;
      const size = next.kind === 'ingest' ? next.events.length : 0;
      if (group.length > 0 && events + size > this.options.maxEventsPerCommit) break;
      this.queue.shift();
      group.push(next);
      events += size;
    }
    this.queuedEvents -= events;
    return { jobs: group, failures: 0 };
  }

  /**
   * One group in one transaction. First its events are inserted (which tells
   * the new from the duplicates) and `inserted` is called; then it waits for
   * `previous`, the group before it: memory and the session rows follow the
   * commit order, so nothing else happens until that one has committed (a
   * failed one aborts this one). Its callers are answered and its changes
   * announced only after its own commit; a failure is left to settle().
   */
  private async commitGroup(group: Group, previous: Promise<Outcome>, inserted: () => void): Promise<Outcome> {
    const { prisma, faultEventId } = this.options;
    const ingests = group.jobs.filter((j): j is Extract<Job, { kind: 'ingest' }> => j.kind === 'ingest');
    const flushes = group.jobs.filter((j): j is Extract<Job, { kind: 'flush' }> => j.kind === 'flush');
    const events: SessionEvent[] = ingests.flatMap((j) => j.events);
    let store: PgSessionStore | undefined;
    const flushed: number[] = [];
    let corrections = 0;
    const startedAt = performance.now();
    try {
      await prisma.$transaction(
        async (tx) => {
          // Read after the wait below for anything but inserting events: a failed group before this one has the memory rebuilt.
          const pg = new PgSessionStore(tx, this.lanes.list[0] as Lanes['list'][number], this.options.partitions);
          store = pg;
          await planWrites(tx);
          const accepted = events.length > 0 ? await pg.insertEvents(events) : [];
          inserted();
          if ((await previous).kind === 'failed') throw new GroupAborted();
          const lanes = this.lanes;
          const nowMs = this.now();
          // Accepted events only: a duplicate may carry another timestamp, and it changes nothing.
          const maxTs = maxTsOf(accepted);
          if (events.length > 0) corrections = await lanes.apply(accepted as ValidEvent[], events.length - accepted.length, pg, nowMs);
          else lanes.beginBatch();
          // After the sessionizer ran, so memory is ahead of the database as after a real bug.
          if (faultEventId != null && events.some((e) => e.eventId === faultEventId)) throw new InjectedFault(`injected fault for event ${faultEventId}`);
          for (const job of flushes) flushed.push(lanes.flush(job.before ?? undefined, nowMs));
          lanes.advanceTime(nowMs);
          await lanes.saveDrained(pg);
          // Last: the service_state row is shared by every instance, so it is held only until the commit.
          if (maxTs !== null) await saveMaxEventTs(tx, maxTs);
          if (this.options.beforeCommit !== undefined) await this.options.beforeCommit(tx, pg.saved);
          // Last, so its lock is held only until COMMIT: a takeover before it fails this group, one after it waits for the commit.
          if (this.options.fence !== undefined) await this.options.fence(tx);
        },
        { timeout: this.options.transactionTimeoutMs ?? 60_000, maxWait: 10_000 },
      );
    } catch (error) {
      inserted();
      return { kind: 'failed', cause: classifyFailure(error), group, error };
    }
    this.progressAt = this.now();
    const committed = store as PgSessionStore;
    const seconds = (performance.now() - startedAt) / 1_000;
    // Duplicates cost a commit their lookup too: the rate is of events taken, not stored.
    this.throughput.record(events.length, seconds);
    this.options.logger.debug(
      { jobs: group.jobs.length, events: committed.inserted.size, changes: committed.saved.length, ms: Math.round(seconds * 1_000) },
      'group committed',
    );
    // Answers first: nothing after this point can take an acknowledgement back.
    for (const job of ingests) {
      let accepted = 0;
      for (const e of job.events) if (committed.inserted.has(e)) accepted += 1;
      job.done.resolve({ accepted, duplicates: job.events.length - accepted });
    }
    flushes.forEach((job, i) => job.done.resolve(flushed[i] ?? 0));
    this.call('observer.committed', () =>
      this.options.observer?.committed({ seconds, mutations: ingests.length, events: committed.inserted.size, corrections }),
    );
    this.call('onCommit', () => this.options.onCommit(committed.saved));
    return COMMITTED;
  }

  /**
   * Handles the failed groups of one turn (a failed group and the one aborted
   * behind it), once both are over. With the database unavailable, or a
   * partition fenced, their callers are refused and the writer recovers as
   * before. A fault (a bug, a constraint that should not fail) is the
   * group's own: memory is rebuilt once (the sessionizer ran ahead of the
   * rolled-back transaction), and its jobs go back to the head of the queue
   * per planAfterFault, with the aborted group behind them, untouched.
   */
  private async settle(outcomes: readonly Outcome[]): Promise<Settled> {
    const failed = outcomes.filter((o): o is Extract<Outcome, { kind: 'failed' }> => o.kind === 'failed');
    if (failed.length === 0) return 'nothing-failed';
    const hard = failed.find((o) => o.cause === 'unavailable' || o.cause === 'fenced');
    if (hard !== undefined) {
      if (hard.cause === 'fenced') {
        this.options.logger.warn('commit fenced: a partition moved to another instance; rebuilding session state');
      } else {
        this.options.logger.error({ err: hard.error }, 'commit failed; rebuilding session state from the database');
        this.call('observer.failed', () => this.options.observer?.failed());
      }
      // Fenced callers retry at the partition's new owner (cluster routing).
      for (const o of failed) {
        const refusal = o.cause === 'fenced' ? (o.error as FencedError) : unavailable();
        for (const job of o.group.jobs) if (isWork(job)) job.done.reject(refusal);
      }
      return (await this.recover()) ? 'rebuilt' : 'stopped';
    }
    const requeue: Entry[] = [];
    for (const o of failed) {
      const work = o.group.jobs.filter(isWork);
      if (o.cause === 'aborted') {
        if (work.length > 0) requeue.push({ kind: 'pinned', jobs: work, failures: o.group.failures });
        continue;
      }
      const failures = o.group.failures + 1;
      const users = new Set(work.flatMap((j) => (j.kind === 'ingest' ? j.events.map((e) => e.userId) : [])));
      this.options.logger.error(
        { err: o.error, jobs: work.length, events: eventsOf(work), users: users.size, flushes: work.length - work.filter((j) => j.kind === 'ingest').length, failures },
        'commit failed by an error that is not the database being unavailable; rebuilding session state once and isolating the failing request',
      );
      this.call('observer.failed', () => this.options.observer?.failed());
      const plan = planAfterFault(work, failures);
      if (plan === null) continue;
      switch (plan.kind) {
        case 'retry':
          for (const part of plan.parts) requeue.push({ kind: 'pinned', jobs: part, failures: plan.failures });
          break;
        case 'reject':
          plan.job.done.reject(faulted());
          break;
        default:
          throw new Error(`unknown plan ${(plan satisfies never) as string}`);
      }
    }
    if (!(await this.reloadOnce())) {
      // The database went away too: nothing may wait on a recovery that lasts as long as the outage.
      for (const entry of requeue) if (entry.kind === 'pinned') for (const job of entry.jobs) job.done.reject(unavailable());
      return (await this.recover()) ? 'rebuilt' : 'stopped';
    }
    this.queue.unshift(...requeue);
    for (const entry of requeue) if (entry.kind === 'pinned') this.queuedEvents += eventsOf(entry.jobs);
    return 'rebuilt';
  }

  /**
   * One build step in a transaction of its own, fenced like a group. Its
   * changes belong to definitions being built: not announced (onCommit sees
   * them with announce false). A failure rebuilds memory (the sessionizer of
   * the built definition ran ahead of the rollback) and tries again later.
   */
  private async commitBuild(): Promise<void> {
    this.buildQueued = false;
    const build = this.options.build;
    if (build === undefined) return;
    let outcome: BuildOutcome | null = null;
    let store: PgSessionStore | null = null;
    const lanes = this.lanes;
    const startedAt = performance.now();
    try {
      await this.options.prisma.$transaction(
        async (tx) => {
          const pg = new PgSessionStore(tx, lanes.list[0] as Lanes['list'][number], this.options.partitions);
          store = pg;
          await planWrites(tx);
          outcome = await build(tx, lanes, pg, this.now());
          if (this.options.beforeCommit !== undefined) await this.options.beforeCommit(tx, pg.saved);
          if (this.options.fence !== undefined) await this.options.fence(tx);
        },
        { timeout: this.options.transactionTimeoutMs ?? 60_000, maxWait: 10_000 },
      );
    } catch (error) {
      this.options.logger.error({ err: error }, 'a definition build step failed; rebuilding session state and trying again');
      this.buildPaused = true;
      setTimeout(() => {
        this.buildPaused = false;
        this.scheduleBuild();
      }, BUILD_RETRY_MS).unref();
      await this.rebuild();
      return;
    }
    this.progressAt = this.now();
    const done = outcome as BuildOutcome | null;
    if (done === null) return;
    const seconds = (performance.now() - startedAt) / 1_000;
    for (const name of done.switched) {
      const lane = lanes.byName(name);
      if (lane !== undefined) lane.announce = true;
      this.options.logger.info({ definition: name }, 'definition built: its new sessions replace the previous ones');
    }
    if (done.definition !== null && done.switched.length === 0) {
      this.options.logger.debug({ definition: done.definition, users: done.users, events: done.events, ms: Math.round(seconds * 1_000) }, 'definition build step');
    }
    this.call('observer.built', () => this.options.observer?.built?.(done, seconds));
    const saved = (store as PgSessionStore | null)?.saved ?? [];
    this.call('onCommit', () => this.options.onCommit(saved));
    if (done.more) this.scheduleBuild();
  }

  // Retries until the database answers again: ingest keeps failing fast meanwhile.
  // A shutdown ends the retries: everything of the failed group was refused,
  // so nothing acknowledged waits on them.
  private async recover(): Promise<boolean> {
    this.recovering = true;
    for (const entry of this.queue.splice(0)) {
      switch (entry.kind) {
        case 'reload':
          // A waiting rebuild is part of this one.
          entry.done.resolve();
          break;
        case 'pinned':
          for (const job of entry.jobs) job.done.reject(unavailable());
          break;
        case 'ingest':
        case 'flush':
          entry.done.reject(unavailable());
          break;
        case 'tick':
          break;
        case 'build':
          this.buildQueued = false;
          break;
        default:
          throw new Error(`unknown entry ${(entry satisfies never) as string}`);
      }
    }
    this.queuedEvents = 0;
    for (let attempt = 0; this.phase.name === 'running'; attempt++) {
      try {
        this.lanes = await this.options.reload();
        this.recovering = false;
        this.call('observer.rebuilt', () => this.options.observer?.rebuilt());
        this.scheduleBuild();
        this.options.logger.info('session state rebuilt from the database; ingest resumes');
        return true;
      } catch (error) {
        this.options.logger.error({ err: error, attempt }, 'reloading session state failed; retrying');
        let timer: NodeJS.Timeout | undefined;
        const backoff = new Promise((resolve) => (timer = setTimeout(resolve, Math.min(5_000, 100 * 2 ** Math.min(attempt, 6)))));
        await Promise.race([backoff, this.stopRequested]);
        clearTimeout(timer);
      }
    }
    return false;
  }

  /** Rebuilds memory between groups (the partitions held changed); on failure, recovers. */
  private async rebuild(): Promise<boolean> {
    return (await this.reloadOnce()) || this.recover();
  }

  /** One attempt to rebuild memory from the database; false (logged) when it failed. */
  private async reloadOnce(): Promise<boolean> {
    try {
      this.lanes = await this.options.reload();
      this.call('observer.rebuilt', () => this.options.observer?.rebuilt());
      this.scheduleBuild();
      return true;
    } catch (error) {
      this.options.logger.error({ err: error }, 'rebuilding session state failed');
      return false;
    }
  }

  /** One wall-clock timer for the earliest quiet-user deadline (never a periodic sweep). */
  private schedule(): void {
    if (this.phase.name !== 'running') return;
    const deadline = this.lanes.nextDeadline();
    if (deadline === null) {
      if (this.timer !== null) clearTimeout(this.timer);
      this.timer = null;
      this.timerAt = Number.POSITIVE_INFINITY;
      return;
    }
    if (this.timer !== null && this.timerAt <= deadline) return;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timerAt = deadline;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.timerAt = Number.POSITIVE_INFINITY;
      // A running loop calls advanceTime in its commit and reschedules after it.
      if (!this.running) this.enqueue({ kind: 'tick' });
    }, Math.min(MAX_TIMER_MS, Math.max(0, deadline - this.now())));
    this.timer.unref();
  }
}
