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
import { SessionTally, type TallyEvent } from './session-tally.ts';

/** Closed users' entries tolerated in the open map before it is rebuilt without them. */
const REBUILD_AFTER = 4_096;

/** Receives each session once it is final (closed). */
export type SessionSink = (session: SessionTally) => void;

/**
 * Cuts events given in key order into sessions. At most one open session per
 * user; open sessions sit in a list ordered by their last event, so closing
 * the quiet ones is a walk from the head.
 */
export class OrderedSessionizer {
  /**
   * Each user's open session, or null once it closed. Closing does not
   * delete: a Map that deletes as often as it inserts keeps rehashing, and
   * its discarded tables, once old, keep young sessions alive through the
   * next scavenges (that alone tripled GC time). Rebuilt when nulls pile up.
   */
  private open = new Map<string, SessionTally | null>();
  private openTotal = 0;
  private closedEntries = 0;
  /** Least recently extended open session. */
  private head: SessionTally | null = null;
  private tail: SessionTally | null = null;
  private readonly gapMs: number;
  private readonly maxDurationMs: number;
  private readonly conversionEvents: ReadonlySet<string>;

  constructor(
    rules: SessionRules,
    private readonly sink: SessionSink,
  ) {
    this.gapMs = rules.gapMs;
    this.maxDurationMs = rules.maxDurationMs;
    this.conversionEvents = rules.conversionEvents;
  }

  /** Open sessions now. */
  get openCount(): number {
    return this.openTotal;
  }

  /** Adds the next event in key order (the caller guarantees the order). */
  add(e: TallyEvent): void {
    const s = this.open.get(e.userId);
    if (s === undefined || s === null) {
      this.start(e, false);
      return;
    }
    const gapOk = e.ts - s.endedAt <= this.gapMs;
    if (gapOk && e.ts - s.startedAt < this.maxDurationMs) {
      s.add(e, this.conversionEvents);
      this.moveToTail(s);
      return;
    }
    this.close(s, gapOk ? 'MAX_DURATION' : 'INACTIVITY');
    this.start(e, gapOk);
  }

  /**
   * Closes (INACTIVITY) the sessions with closesAt = endedAt + gap below the
   * watermark: every event still to come is at or after the watermark, so
   * none can join them.
   */
  closeBefore(watermark: number): void {
    const gap = this.gapMs;
    for (let s = this.head; s !== null && s.endedAt + gap < watermark; s = this.head) this.close(s, 'INACTIVITY');
  }

  /** Closes every open session (FLUSH: the end of the input), least recently extended first. */
  flush(): void {
    for (let s = this.head; s !== null; s = this.head) this.close(s, 'FLUSH');
  }

  private start(e: TallyEvent, startedByCut: boolean): void {
    const s = new SessionTally(e, startedByCut, this.conversionEvents);
    this.append(s);
    if (this.open.get(e.userId) === null) this.closedEntries--;
    this.open.set(e.userId, s);
    this.openTotal++;
  }

  private close(s: SessionTally, reason: CloseReason): void {
    this.unlink(s);
    this.open.set(s.userId, null);
    this.openTotal--;
    if (++this.closedEntries > REBUILD_AFTER && this.closedEntries > 2 * this.openTotal) this.rebuild();
    s.closeReason = reason;
    this.sink(s);
  }

  private rebuild(): void {
    const open = new Map<string, SessionTally | null>();
    for (let s = this.head; s !== null; s = s.next) open.set(s.userId, s);
    this.open = open;
    this.closedEntries = 0;
  }

  private moveToTail(s: SessionTally): void {
    if (s === this.tail) return;
    this.unlink(s);
    this.append(s);
  }

  private append(s: SessionTally): void {
    s.prev = this.tail;
    if (this.tail === null) this.head = s;
    else this.tail.next = s;
    this.tail = s;
  }

  private unlink(s: SessionTally): void {
    if (s.prev === null) this.head = s.next;
    else s.prev.next = s.next;
    if (s.next === null) this.tail = s.prev;
    else s.next.prev = s.prev;
    s.prev = null;
    s.next = null;
  }
}
