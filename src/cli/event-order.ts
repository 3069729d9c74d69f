/**
 * Puts a file's events into the order the session rules read them, with
 * memory bounded by `--lateness` (docs/cli.md, "Late events and memory").
 *
 * An event is admitted in file order unless it is more than the lateness
 * behind the newest timestamp so far (LATE_EVENT) or repeats an eventId of
 * its user still held (a duplicate, as the service counts it). Admitted events wait in a
 * min-heap on their timestamp until no line still to come can precede them,
 * then leave in timestamp order. Events of one user with the same timestamp
 * leave together, ordered by eventId as in the service; only for them are the
 * service's derived ids computed (deriveEventId, a SHA-256 per event), and
 * equal derived ids are duplicates. Everywhere else the order does not
 * depend on the ids, so the rest never pay for them.
 */
import { deriveEventId } from '../ingest/validate.ts';
import { MinHeap } from '../sessionizer/heap.ts';
import type { SessionEvent } from '../sessionizer/types.ts';
import type { LineRefusal } from './line-events.ts';

/** An event of the file; eventId is '' until derived, for one sent without (own false). */
export interface FileEvent extends SessionEvent {
  eventId: string;
  readonly own: boolean;
  /**
   * JSON text of its properties as the line had it (line-scanner.ts), or
   * null; a derived id hashes its canonical form. undefined: not at hand
   * (another thread read the line): EventOrder's `recall` finds them by `at`.
   */
  readonly properties: string | null | undefined;
  /** Where `recall` finds the properties when they are undefined (Recall). */
  readonly at: number;
}

/** The properties of the event that `at` (FileEvent.at) locates: its line read again. */
export type Recall = (at: number) => string | null;

export const LATE_EVENT = 'LATE_EVENT';
/** Events handed on at once: small batches keep the core's short-lived objects young (cheap to collect). */
const BATCH = 256;

export class EventOrder {
  private readonly heap = new MinHeap<FileEvent>();
  private maxTs = Number.NEGATIVE_INFINITY;
  /**
   * Own eventIds of the events held (a repeat of one by the same user is a
   * duplicate, see isRepeat): eventId -> the held event with it; an id that
   * events of other users hold too is kept in `sharedIds` under user NUL id.
   */
  private readonly ownIds = new Map<string, FileEvent>();
  private readonly sharedIds = new Map<string, FileEvent>();
  private batch: FileEvent[] = [];
  /** Events dropped as duplicates (a repeated eventId). */
  duplicates = 0;
  /** Largest (newest - ts) of a refused late event: the --lateness that would have kept them all. */
  largestLatenessMs = 0;
  /** Most events held at once. */
  peakHeld = 0;

  /**
   * latenessMs: how far behind the newest timestamp an event is still
   * admitted (Infinity: always). `deliver` receives events in key order per
   * user, in batches it may keep no reference to.
   */
  constructor(
    private readonly latenessMs: number,
    private readonly deliver: (events: readonly FileEvent[]) => void,
    private readonly recall: Recall = noRecall,
  ) {}

  /** Admits one event (file order); returns its LATE_EVENT refusal, or null. */
  admit(e: FileEvent, line: number): LineRefusal | null {
    if (e.ts < this.maxTs - this.latenessMs) {
      const behind = this.maxTs - e.ts;
      if (behind > this.largestLatenessMs) this.largestLatenessMs = behind;
      return {
        line,
        code: LATE_EVENT,
        message: `${new Date(e.ts).toISOString()} is ${behind / 1000} s behind ${new Date(this.maxTs).toISOString()}, more than --lateness allows`,
      };
    }
    if (e.ts > this.maxTs) this.maxTs = e.ts;
    // Scoped to the user, so that users can be split between threads (docs/cli.md).
    if (e.own && this.isRepeat(e)) {
      this.duplicates++;
      return null;
    }
    this.heap.push(e.ts, e);
    if (this.heap.size > this.peakHeld) this.peakHeld = this.heap.size;
    return null;
  }

  /**
   * Whether e repeats the own id of an event of its user that was kept and
   * is not yet past the watermark (newest - lateness, e's own time
   * included); if not, e now holds the id. Decided by the lines alone: a
   * kept event at or after the watermark is always still held, one before
   * it counts as gone whether or not it was released yet, so where the
   * input was cut into chunks (threads, standard input) changes nothing.
   */
  private isRepeat(e: FileEvent): boolean {
    const holder = this.ownIds.get(e.eventId);
    // The id is held by another user's event: this user's is keyed by user and id.
    if (holder !== undefined && holder.userId !== e.userId) return this.repeats(this.sharedIds, sharedKey(e), e);
    return this.repeats(this.ownIds, e.eventId, e, holder ?? (this.sharedIds.size > 0 ? this.sharedIds.get(sharedKey(e)) : undefined));
  }

  /** Whether `held` (by default what `ids` holds under `key`) is within the watermark; if not, e holds `key` in `ids` now. */
  private repeats(ids: Map<string, FileEvent>, key: string, e: FileEvent, held = ids.get(key)): boolean {
    if (held !== undefined && held.ts >= this.maxTs - this.latenessMs) return true;
    ids.set(key, e);
    return false;
  }

  /**
   * Raises the newest timestamp seen to `ts`, the newest of lines admitted
   * elsewhere (by the thread that holds their users).
   */
  raiseNewest(ts: number): void {
    if (ts > this.maxTs) this.maxTs = ts;
  }

  /** The newest timestamp of the valid lines so far. */
  newest(): number {
    return this.maxTs;
  }

  /** Hands on every event no later line can precede. */
  release(): void {
    this.releaseBelow(this.maxTs - this.latenessMs);
  }

  /** The input ended: hands on everything. */
  end(): void {
    this.releaseBelow(Number.POSITIVE_INFINITY);
  }

  private releaseBelow(watermark: number): void {
    const heap = this.heap;
    while (heap.peekKey() < watermark) {
      const e = heap.pop() as FileEvent;
      if (heap.peekKey() === e.ts) this.releaseGroup(e);
      else this.put(e);
    }
    this.flush();
  }

  /** Every held event with first's timestamp: per user, ordered by eventId, duplicates dropped. */
  private releaseGroup(first: FileEvent): void {
    const group = [first];
    while (this.heap.peekKey() === first.ts) group.push(this.heap.pop() as FileEvent);
    // Usually every event of the group is another user's (files in whole
    // seconds put a dozen users in each second): nothing to order then.
    if (!hasRepeatedUser(group)) {
      for (const e of group) this.put(e);
      return;
    }
    group.sort(byUser);
    for (let i = 0; i < group.length; ) {
      let j = i + 1;
      while (j < group.length && (group[j] as FileEvent).userId === (group[i] as FileEvent).userId) j++;
      if (j - i === 1) this.put(group[i] as FileEvent);
      else this.putSameKey(group.slice(i, j));
      i = j;
    }
  }

  private putSameKey(events: FileEvent[]): void {
    for (const e of events) {
      if (e.own) continue;
      const properties = e.properties === undefined ? this.recall(e.at) : e.properties;
      e.eventId = deriveEventId({ ...e, properties: properties === null ? null : JSON.stringify(JSON.parse(properties)) });
    }
    events.sort(byEventId);
    let last: string | null = null;
    for (const e of events) {
      if (e.eventId === last) this.duplicates++;
      else this.put(e);
      last = e.eventId;
    }
  }

  private put(e: FileEvent): void {
    if (e.own) {
      if (this.ownIds.get(e.eventId) === e) this.ownIds.delete(e.eventId);
      else if (this.sharedIds.size > 0 && this.sharedIds.get(sharedKey(e)) === e) this.sharedIds.delete(sharedKey(e));
    }
    this.batch.push(e);
    if (this.batch.length >= BATCH) this.flush();
  }

  private flush(): void {
    if (this.batch.length === 0) return;
    this.deliver(this.batch);
    this.batch.length = 0;
  }
}

function noRecall(): never {
  throw new Error('internal error: an event without its properties, and no way to read them again');
}

function sharedKey(e: FileEvent): string {
  return `${e.userId}\u0000${e.eventId}`;
}

/** Largest group checked pair by pair; a larger one goes through a Set. */
const PAIRWISE_MAX = 32;

function hasRepeatedUser(group: readonly FileEvent[]): boolean {
  if (group.length > PAIRWISE_MAX) return new Set(group.map((e) => e.userId)).size < group.length;
  for (let i = 1; i < group.length; i++) {
    const user = (group[i] as FileEvent).userId;
    for (let j = 0; j < i; j++) if ((group[j] as FileEvent).userId === user) return true;
  }
  return false;
}

function byUser(a: FileEvent, b: FileEvent): number {
  return a.userId < b.userId ? -1 : a.userId > b.userId ? 1 : 0;
}

function byEventId(a: FileEvent, b: FileEvent): number {
  return a.eventId < b.eventId ? -1 : a.eventId > b.eventId ? 1 : 0;
}
