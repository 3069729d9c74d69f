import { ChangeLog } from './change-log.ts';
import { MinHeap } from './heap.ts';
import { absorb, createState } from './metrics.ts';
import type { CloseReason, SessionEvent, SessionizerOptions, SessionState } from './types.ts';
import type { UserState } from './user-state.ts';
import { createUser } from './user-state.ts';

/**
 * The open sessions per user with their change log and timers: the state the
 * Sessionizer's rules act on. Every timer is a min-heap with lazy entries
 * (one per open session or user; an entry whose key no longer matches is
 * skipped, one whose deadline moved is pushed again), so no operation scans
 * all sessions.
 */
export class OpenSessions {
  readonly users = new Map<string, UserState>();
  readonly log = new ChangeLog();
  /** Change-log epoch: a session's version moves once per epoch. */
  epoch = 1;
  openTotal = 0;
  /**
   * Smallest key in the watermark and frontier heaps (a lower bound): until the
   * watermark passes it, onWatermark has nothing to do and is not called.
   */
  dueAt = Number.POSITIVE_INFINITY;
  /** Open sessions keyed by closesAt. */
  private readonly wmHeap = new MinHeap<SessionState>();
  /** Users with open sessions keyed by their quiet deadline. */
  private readonly quietHeap = new MinHeap<UserState>();
  /** Users with a closed frontier keyed by frontier + gap, for pruning. */
  private readonly frontierHeap = new MinHeap<UserState>();
  private readonly gap: number;
  private readonly quietSpan: number;
  private readonly quietTimers: boolean;

  constructor(private readonly opts: SessionizerOptions) {
    this.gap = opts.gapMs;
    this.quietSpan = opts.gapMs + opts.allowedLatenessMs;
    this.quietTimers = opts.quietTimers ?? true;
  }

  addUser(userId: string, nowMs: number): UserState {
    const u = createUser(userId, nowMs);
    this.users.set(userId, u);
    return u;
  }

  /** A new open session holding e, at position `at` of the user's list. */
  open(u: UserState, e: SessionEvent, at: number, byCut: boolean): void {
    const s = createState(this.opts.newId(), e, byCut, this.opts.conversionEvents);
    s.touchedEpoch = this.epoch;
    this.log.push('started', s);
    this.openTotal++;
    if (u.open.length === 0) u.open = [s]; // exact size: most users have one open session
    else if (at === u.open.length) u.open.push(s);
    else u.open.splice(at, 0, s);
    this.track(u, s);
  }

  /** Registers an open session with the timers (again when its closesAt shrank). */
  track(u: UserState, s: SessionState): void {
    const closesAt = s.endedAt + this.gap;
    s.user = u;
    s.wmKey = closesAt;
    this.wmHeap.push(closesAt, s);
    if (closesAt < this.dueAt) this.dueAt = closesAt;
    if (this.quietTimers && Number.isNaN(u.quietKey)) {
      u.quietKey = u.lastReceivedAt + this.quietSpan;
      this.quietHeap.push(u.quietKey, u);
    }
  }

  /** Records a change to an open session: 'updated' and a version step at its first change in the epoch. */
  touch(s: SessionState): void {
    if (s.touchedEpoch !== this.epoch) {
      s.touchedEpoch = this.epoch;
      s.version++;
      this.log.push('updated', s);
    }
  }

  /** Folds the open session at `laterAt` into `p` (the earlier id survives). */
  merge(u: UserState, p: SessionState, laterAt: number): void {
    const later = u.open[laterAt] as SessionState;
    absorb(p, later);
    this.touch(p);
    this.bump(later);
    later.live = false;
    later.user = null;
    later.mergedInto = p.id;
    this.log.push('removed', later);
    this.openTotal--;
    removeAt(u.open, laterAt);
  }

  private bump(s: SessionState): void {
    if (s.touchedEpoch !== this.epoch) {
      s.touchedEpoch = this.epoch;
      s.version++;
    }
  }

  /** Closes an open session; the caller takes it out of its user's list. */
  close(s: SessionState, reason: CloseReason, nowMs: number): void {
    this.bump(s);
    s.status = 'CLOSED';
    s.closeReason = reason;
    s.closedAt = nowMs;
    s.live = false;
    s.user = null;
    this.log.push('closed', s);
    this.openTotal--;
  }

  /** Closes (INACTIVITY) open sessions with closesAt < w; prunes frontiers below w. */
  onWatermark(w: number, nowMs: number): void {
    const heap = this.wmHeap;
    while (heap.peekKey() < w) {
      const key = heap.peekKey();
      const s = heap.pop() as SessionState;
      if (!s.live || s.wmKey !== key) continue;
      const closesAt = s.endedAt + this.gap;
      if (closesAt >= w) {
        s.wmKey = closesAt;
        heap.push(closesAt, s);
        continue;
      }
      const u = s.user as UserState;
      this.close(s, 'INACTIVITY', nowMs);
      removeAt(u.open, u.open.indexOf(s));
      this.forgetIfIdle(u);
    }
    const fh = this.frontierHeap;
    while (fh.peekKey() < w) {
      // Events below the watermark are deferred anyway: the frontier is no longer needed.
      const key = fh.peekKey();
      const u = fh.pop() as UserState;
      if (u.frontierKey !== key) continue;
      u.frontier = Number.NEGATIVE_INFINITY;
      u.frontierKey = Number.NaN;
      this.forgetIfIdle(u);
    }
    this.dueAt = Math.min(heap.peekKey(), fh.peekKey());
  }

  setFrontier(u: UserState, frontier: number): void {
    if (frontier <= u.frontier) return;
    u.frontier = frontier;
    u.frontierKey = frontier + this.gap;
    this.frontierHeap.push(u.frontierKey, u);
    if (u.frontierKey < this.dueAt) this.dueAt = u.frontierKey;
  }

  /**
   * Drops a user with nothing open and no frontier in force. Callers pass the
   * user's current state: a state leaves the map only through here, once it
   * has neither, so no heap entry can hand back a stale one with either.
   */
  forgetIfIdle(u: UserState): void {
    if (u.open.length === 0 && Number.isNaN(u.frontierKey)) this.users.delete(u.userId);
  }

  /** Closes (INACTIVITY) the sessions of users quiet since nowMs - gap - lateness. */
  closeQuiet(nowMs: number): void {
    const heap = this.quietHeap;
    while (heap.peekKey() <= nowMs) {
      const key = heap.peekKey();
      const u = heap.pop() as UserState;
      if (u.quietKey !== key) continue;
      const deadline = u.lastReceivedAt + this.quietSpan;
      if (u.open.length > 0 && deadline > nowMs) {
        u.quietKey = deadline;
        heap.push(deadline, u);
        continue;
      }
      u.quietKey = Number.NaN;
      this.closeUser(u, 'INACTIVITY', nowMs, Number.POSITIVE_INFINITY);
    }
  }

  /** The earliest real quiet deadline, fixing stale heap tops on the way. */
  nextDeadline(): number | null {
    const heap = this.quietHeap;
    while (heap.size > 0) {
      const key = heap.peekKey();
      const u = heap.peekItem() as UserState;
      if (u.quietKey === key && u.open.length > 0) {
        const deadline = u.lastReceivedAt + this.quietSpan;
        if (deadline <= key) return key;
        heap.pop();
        u.quietKey = deadline;
        heap.push(deadline, u);
        continue;
      }
      heap.pop();
      if (u.quietKey === key) u.quietKey = Number.NaN;
    }
    return null;
  }

  /** Closes a user's open sessions that ended before `limit`; records the closed frontier. */
  closeUser(u: UserState, reason: CloseReason, nowMs: number, limit: number): void {
    if (u.open.length === 0) return;
    let frontier = u.frontier;
    const kept: SessionState[] = [];
    for (const s of u.open) {
      if (s.endedAt >= limit) {
        kept.push(s);
        continue;
      }
      this.close(s, reason, nowMs);
      if (s.endedAt > frontier) frontier = s.endedAt;
    }
    u.open = kept;
    this.setFrontier(u, frontier);
  }
}

/** Array.splice(i, 1) without allocating the removed-items array. */
export function removeAt<T>(a: T[], i: number): void {
  const n = a.length - 1;
  for (let k = i; k < n; k++) a[k] = a[k + 1] as T;
  a.length = n;
}
