/**
 * The session rules over events that arrive in key order (ts, eventId), as
 * ReorderBuffer releases them. Then each user's events come in the order the
 * rules read them and the rules are a single pass, exactly as the brute-force
 * definition states them (src/sessionizer/reference.ts):
 *
 *   an event joins its user's session when ts - endedAt <= gap and
 *   ts - startedAt < maxDuration; otherwise the session closes (INACTIVITY,
 *   or MAX_DURATION when only the duration failed) and the event starts one.
 *
 * What the service's Sessionizer adds on top (corrections for late events,
 * versions, change logs) is not needed: nothing arrives out of order, and a
 * session is handed out once, when it is final.
 */
import type { CloseReason, SessionRules } from '../sessionizer/types.ts';
import { LastNameSet, SessionTally, type TallyEvent } from './session-tally.ts';

/** Closed users' entries tolerated in the open map before it is rebuilt without them. */
const REBUILD_AFTER = 4_096;
/** Consumed entries of the activity queue before it is compacted. */
const COMPACT_AFTER = 4_096;

/** Receives each session once it is final (closed). */
export type SessionSink = (session: SessionTally) => void;

/** A user's entry in the open map: its open session, or null once that closed. */
export interface UserSlot {
  session: SessionTally | null;
}

/**
 * Cuts events given in key order into sessions. At most one open session per
 * user. Every event that extends or starts a session appends the session to
 * an activity queue; its entry there is current while it is the session's
 * last. Events come in time order, so the current entries are in the order
 * of the sessions' last events, and closing the quiet ones is a walk from
 * the head, skipping entries that are no longer current (no linked list to
 * keep up, which touched two more sessions per event).
 */
export class OrderedSessionizer {
  /**
   * Each user's slot. Closing empties the slot rather than deleting it: a Map
   * that deletes as often as it inserts keeps rehashing, and its discarded
   * tables, once old, keep young sessions alive through the next scavenges
   * (that alone tripled GC time). Rebuilt when empty slots pile up.
   */
  private open = new Map<string, UserSlot>();
  private openTotal = 0;
  private closedEntries = 0;
  /** Sessions by activity: queue[queueHead..], the sequence number of queue[i] is queueBase + i. */
  private queue: SessionTally[] = [];
  private queueHead = 0;
  private queueBase = 0;
  private readonly gapMs: number;
  private readonly maxDurationMs: number;
  private readonly conversionEvents: LastNameSet;

  constructor(
    rules: SessionRules,
    private readonly sink: SessionSink,
  ) {
    this.gapMs = rules.gapMs;
    this.maxDurationMs = rules.maxDurationMs;
    this.conversionEvents = new LastNameSet(rules.conversionEvents);
  }

  /** Open sessions now. */
  get openCount(): number {
    return this.openTotal;
  }

  /** Adds the next event in key order (the caller guarantees the order). */
  add(e: TallyEvent): void {
    let slot = this.open.get(e.userId);
    if (slot === undefined) {
      // Fresh (not kept across rebuilds): young and next to its session, it is cheaper to reach.
      slot = { session: null };
      this.open.set(e.userId, slot);
      this.closedEntries++;
    }
    const s = slot.session;
    if (s === null) {
      this.closedEntries--;
      this.start(e, slot, false);
      return;
    }
    const gapOk = e.ts - s.endedAt <= this.gapMs;
    if (gapOk && e.ts - s.startedAt < this.maxDurationMs) {
      s.add(e, this.conversionEvents);
      this.touch(s);
      return;
    }
    this.close(s, gapOk ? 'MAX_DURATION' : 'INACTIVITY');
    this.closedEntries--; // the slot is filled again at once
    this.start(e, slot, gapOk);
  }

  /**
   * Closes (INACTIVITY) the sessions with closesAt = endedAt + gap below the
   * watermark: every event still to come is at or after the watermark, so
   * none can join them.
   */
  closeBefore(watermark: number): void {
    const gap = this.gapMs;
    for (let s = this.oldest(); s !== null && s.endedAt + gap < watermark; s = this.oldest()) this.close(s, 'INACTIVITY');
    if (this.closedEntries > REBUILD_AFTER && this.closedEntries > 2 * this.openTotal) this.rebuild();
  }

  /** Closes every open session (FLUSH: the end of the input), least recently extended first. */
  flush(): void {
    for (let s = this.oldest(); s !== null; s = this.oldest()) this.close(s, 'FLUSH');
  }

  private start(e: TallyEvent, slot: UserSlot, startedByCut: boolean): void {
    const s = new SessionTally(e, startedByCut, this.conversionEvents);
    s.slot = slot;
    slot.session = s;
    this.openTotal++;
    this.touch(s);
  }

  private close(s: SessionTally, reason: CloseReason): void {
    const slot = s.slot as UserSlot;
    slot.session = null;
    s.slot = null;
    this.openTotal--;
    this.closedEntries++;
    s.closeReason = reason;
    this.sink(s);
  }

  /** `s` was just started or extended: its entry at the queue's tail becomes current. */
  private touch(s: SessionTally): void {
    s.activity = this.queueBase + this.queue.length;
    this.queue.push(s);
    // Entries no longer current pile up behind a long gap: keep the queue within a multiple of the open sessions.
    if (this.queue.length - this.queueHead > 2 * this.openTotal + COMPACT_AFTER) this.dropStale();
  }

  /** Keeps only the current entries of the activity queue, in order. */
  private dropStale(): void {
    const kept: SessionTally[] = [];
    const q = this.queue;
    for (let i = this.queueHead; i < q.length; i++) {
      const s = q[i] as SessionTally;
      if (s.slot !== null && s.activity === this.queueBase + i) {
        s.activity = kept.length;
        kept.push(s);
      }
    }
    this.queue = kept;
    this.queueHead = 0;
    this.queueBase = 0;
  }

  /** The open session extended least recently, or null; drops the entries before it that are not current. */
  private oldest(): SessionTally | null {
    const q = this.queue;
    let head = this.queueHead;
    let found: SessionTally | null = null;
    for (; head < q.length; head++) {
      const s = q[head] as SessionTally;
      if (s.slot !== null && s.activity === this.queueBase + head) {
        found = s;
        break;
      }
      q[head] = undefined as unknown as SessionTally; // let it be collected
    }
    if (head === q.length) {
      this.queueBase += q.length;
      q.length = 0;
      head = 0;
    } else if (head >= COMPACT_AFTER && head * 2 >= q.length) {
      this.queue = q.slice(head);
      this.queueBase += head;
      head = 0;
    }
    this.queueHead = head;
    return found;
  }

  private rebuild(): void {
    const open = new Map<string, UserSlot>();
    for (const [user, slot] of this.open) if (slot.session !== null) open.set(user, slot);
    this.open = open;
    this.closedEntries = 0;
  }
}
