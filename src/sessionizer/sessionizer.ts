import type { ClosedSession } from './closed-session.ts';
import { installCorrection } from './install-correction.ts';
import { addEvent, keyLess } from './metrics.ts';
import { OpenSessions, removeAt } from './open-sessions.ts';
import { snapshotOf } from './snapshot.ts';
import type {
  Change,
  CorrectionRequest,
  CorrectionResult,
  SessionEvent,
  SessionizerOptions,
  SessionSnapshot,
  SessionState,
} from './types.ts';
import type { UserState } from './user-state.ts';
import { insertSorted } from './user-state.ts';

interface PendingRequest {
  userId: string;
  fromTs: number;
  toTs: number;
}

/**
 * The in-memory sessionizer: open sessions per user, exact fast paths for
 * events that only touch open sessions, and correction requests for the rest
 * (docs/sessionizer.md). Pure: time comes in as arguments, ids from
 * opts.newId, changes go out through drainChanges().
 */
export class Sessionizer {
  private readonly t: OpenSessions;
  private readonly gap: number;
  private maxEventTs = Number.NEGATIVE_INFINITY;

  constructor(readonly opts: SessionizerOptions) {
    this.t = new OpenSessions(opts);
    this.gap = opts.gapMs;
  }

  /** Largest accepted event ts minus allowedLatenessMs; -Infinity before any event. */
  watermark(): number {
    return this.maxEventTs - this.opts.allowedLatenessMs;
  }

  /** Raises the largest accepted event ts (restore after a restart). */
  setMaxEventTs(ts: number): void {
    if (ts > this.maxEventTs) this.maxEventTs = ts;
  }

  /**
   * Raises the largest event ts to `ts` as if an event at `ts` had been
   * applied, closing (INACTIVITY) what the watermark then passes: for a
   * caller that splits users between several sessionizers (the CLI's
   * threads), so each closes its sessions as one sessionizer would.
   */
  advanceEventTime(ts: number, nowMs: number): void {
    if (ts <= this.maxEventTs) return;
    this.maxEventTs = ts;
    const w = ts - this.opts.allowedLatenessMs;
    if (w > this.t.dueAt) this.t.onWatermark(w, nowMs);
  }

  /** Starts a batch: a session's version moves once, at its first change in a batch (drainChanges also ends one). */
  beginBatch(): void {
    this.t.epoch++;
  }

  /**
   * Applies accepted, de-duplicated events in array order at wall-clock nowMs.
   * Returns one request per user with events that must be corrected from the
   * store (fromTs/toTs: the min/max ts of those events).
   */
  apply(events: readonly SessionEvent[], nowMs: number): CorrectionRequest[] {
    let deferred: Map<string, PendingRequest> | null = null;
    const lateness = this.opts.allowedLatenessMs;
    const gap = this.gap;
    const t = this.t;
    const users = t.users;
    for (let i = 0; i < events.length; i++) {
      const e = events[i] as SessionEvent;
      const ts = e.ts;
      const u = users.get(e.userId);
      if (u !== undefined && nowMs > u.lastReceivedAt) u.lastReceivedAt = nowMs;
      const pending = deferred === null ? undefined : deferred.get(e.userId);
      if (pending !== undefined) {
        // The correction reads this user's later events from the store.
        if (ts < pending.fromTs) pending.fromTs = ts;
        if (ts > pending.toTs) pending.toTs = ts;
      } else {
        // Behind the watermark or near a closed frontier: only the store knows the neighbours.
        const mayTouchStored = ts < this.maxEventTs - lateness || (u !== undefined && ts <= u.frontier + gap);
        let placed = false;
        if (!mayTouchStored) placed = this.place(u, e, nowMs);
        if (!placed) {
          deferred ??= new Map();
          deferred.set(e.userId, { userId: e.userId, fromTs: ts, toTs: ts });
        }
      }
      if (ts > this.maxEventTs) {
        this.maxEventTs = ts;
        if (ts - lateness > t.dueAt) t.onWatermark(ts - lateness, nowMs);
      }
    }
    return deferred === null ? [] : [...deferred.values()];
  }

  /**
   * The fast paths. Only open sessions are in memory; false means the event
   * may touch a closed session or shift a MAX_DURATION cut (defer).
   */
  private place(u: UserState | undefined, e: SessionEvent, nowMs: number): boolean {
    const t = this.t;
    if (u === undefined) {
      t.open(t.addUser(e.userId, nowMs), e, 0, false);
      return true;
    }
    const open = u.open;
    const n = open.length;
    if (n === 0) {
      t.open(u, e, 0, false);
      return true;
    }
    // j: index of the first open session starting after e (usually n: an append).
    let j = n;
    const last = open[n - 1] as SessionState;
    if (!keyLess(last.startedAt, last.firstEventId, e.ts, e.eventId)) j = firstStartingAfter(open, e);
    const p = j > 0 ? (open[j - 1] as SessionState) : undefined;
    const next = j < n ? (open[j] as SessionState) : undefined;
    const conv = this.opts.conversionEvents;
    if (p !== undefined && keyLess(e.ts, e.eventId, p.endedAt, p.lastEventId)) {
      addEvent(p, e, conv); // strictly inside: no boundary moves
      t.touch(p);
      return true;
    }
    // A cut-started session's predecessor (closed by MAX_DURATION) is only in the store.
    if (next !== undefined && next.startedByCut) return false;
    const max = this.opts.maxDurationMs;
    const joinsNext = next !== undefined && next.startedAt - e.ts <= this.gap;
    if (p !== undefined && e.ts - p.endedAt <= this.gap) {
      if (joinsNext) {
        if (next.endedAt - p.startedAt >= max) return false;
        addEvent(p, e, conv);
        t.merge(u, p, j);
        return true;
      }
      if (e.ts - p.startedAt < max) {
        addEvent(p, e, conv);
        t.touch(p);
        return true;
      }
      t.close(p, 'MAX_DURATION', nowMs);
      removeAt(open, j - 1);
      t.open(u, e, j - 1, true);
      return true;
    }
    if (joinsNext) {
      if (next.endedAt - e.ts >= max) return false;
      addEvent(next, e, conv); // extends its start backwards
      t.touch(next);
      return true;
    }
    t.open(u, e, j, false);
    return true;
  }

  /** Closes (INACTIVITY) open sessions of users quiet for gap + lateness of wall-clock time up to nowMs. */
  advanceTime(nowMs: number): void {
    this.t.closeQuiet(nowMs);
  }

  /** The earliest pending quiet deadline (wall-clock ms), or null: the one timer to set. */
  nextDeadline(): number | null {
    return this.t.nextDeadline();
  }

  /** Closes (FLUSH) every open session, or only those with endedAt < beforeTs. */
  flush(beforeTs: number | undefined, nowMs: number): void {
    const limit = beforeTs ?? Number.POSITIVE_INFINITY;
    for (const u of this.t.users.values()) this.t.closeUser(u, 'FLUSH', nowMs, limit);
  }

  /**
   * The changes since the last drain in the order they happened, each with the
   * session's latest snapshot: a session appears once as 'started' or
   * 'updated', plus its 'closed'/'removed' entries. Also ends the batch.
   */
  drainChanges(): Change[] {
    const out = this.t.log.drain(this.opts);
    this.t.epoch++;
    return out;
  }

  /**
   * The sessions closed since the last drain, in closing order, without the
   * other changes: for a caller that writes only final sessions
   * (closed-session.ts). Unlike drainChanges it does not end a batch.
   */
  drainClosed(): ClosedSession[] {
    return this.t.log.drainClosed(this.opts);
  }

  openSessions(): SessionSnapshot[] {
    const out: SessionSnapshot[] = [];
    for (const u of this.t.users.values()) for (const s of u.open) out.push(snapshotOf(s, this.opts));
    return out;
  }

  openCount(): number {
    return this.t.openTotal;
  }

  /**
   * Reloads state after a restart; call on a fresh instance. sessions: the
   * stored OPEN sessions (others are ignored); closedFrontiers: see
   * loadClosedFrontiers (store/session-store.ts): per user, the largest endedAt
   * of CLOSED sessions that events at or after the watermark could still
   * reach. Sessions already behind the watermark close at once.
   * lastReceived: per user, when an event of it was last received (wall
   * clock, ms; loadLastWrites): its quiet timer runs from then, so a restart
   * does not postpone the closing of quiet users; a user without one, from
   * nowMs.
   */
  restore(
    sessions: readonly SessionSnapshot[],
    maxEventTs: number,
    closedFrontiers: ReadonlyMap<string, number> | undefined,
    nowMs: number,
    lastReceived?: ReadonlyMap<string, number>,
  ): void {
    const t = this.t;
    this.setMaxEventTs(maxEventTs);
    for (const snap of sessions) {
      if (snap.status !== 'OPEN') continue;
      const u = t.users.get(snap.userId) ?? t.addUser(snap.userId, Math.min(nowMs, lastReceived?.get(snap.userId) ?? nowMs));
      t.openTotal++;
      t.track(u, insertSorted(u, snap));
    }
    for (const [userId, frontier] of closedFrontiers ?? []) {
      t.setFrontier(t.users.get(userId) ?? t.addUser(userId, nowMs), frontier);
    }
    t.onWatermark(this.watermark(), nowMs);
  }

  /**
   * Installs the correction of one user (correctSessions): its OPEN sessions
   * replace the in-memory ones it covered; its changes come out of the next
   * drainChanges. Drain and save earlier changes before loading the region.
   */
  applyCorrection(userId: string, result: CorrectionResult, nowMs: number): void {
    const t = this.t;
    const u = t.users.get(userId) ?? t.addUser(userId, nowMs);
    if (nowMs > u.lastReceivedAt) u.lastReceivedAt = nowMs;
    const r = installCorrection(u, result, t.epoch, t.log);
    t.openTotal += r.opened - r.dropped;
    for (const s of r.tracked) t.track(u, s);
    t.setFrontier(u, r.frontier);
    t.forgetIfIdle(u);
  }
}

/** Binary search: index of the first session whose first key is after e's key. */
function firstStartingAfter(open: readonly SessionState[], e: SessionEvent): number {
  let lo = 0;
  let hi = open.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    const s = open[mid] as SessionState;
    if (keyLess(e.ts, e.eventId, s.startedAt, s.firstEventId)) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}
