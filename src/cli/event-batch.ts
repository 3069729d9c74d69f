/**
 * Events handed from the thread that parses and orders them to the one that
 * sessionizes them, as columns of typed arrays, which postMessage moves
 * without copying. Strings (users, names, channels) travel once: events
 * refer to them by index. Most come with an id from the parser's
 * StringInterner, used as the index as it is (no lookup); the others get an
 * index from a table of this writer's own, told apart by sign.
 */
import type { LineFields } from './event-line.ts';
import type { LineEvent } from './line-event.ts';
import type { StringInterner } from './string-interner.ts';

/** A line's event with the interner ids of its strings (LineFields' refs, -1 where none), as BatchWriter takes it. */
export interface RefEvent extends LineEvent {
  readonly userRef: number;
  readonly nameRef: number;
  readonly channelRef: number;
}

/** The event of the line `line` whose fields were just mapped into `f`, with their interner ids. */
export function refEventOf(f: LineFields, line: number): RefEvent {
  return {
    userId: f.userId,
    name: f.name,
    ts: f.ts,
    channelId: f.channelId,
    value: f.value,
    line,
    ownId: f.eventId,
    userRef: f.userRef,
    nameRef: f.nameRef,
    channelRef: f.channelRef,
  };
}

/** A batch as postMessage carries it. */
export interface EventBatch {
  readonly count: number;
  readonly ts: Float64Array;
  /** Line numbers. */
  readonly line: Float64Array;
  /** String indices: i >= 0 is interned[i], i <= -2 is others[-2 - i]; channel -1: none. */
  readonly user: Int32Array;
  readonly name: Int32Array;
  readonly channel: Int32Array;
  /** NaN: none (values are finite otherwise). */
  readonly value: Float64Array;
  /** [event index, eventId] of the events that carry their own id (usually none). */
  readonly ownIds: Array<[number, string]>;
  /** The receiver empties its interned table first (the interner started over). */
  readonly resetInterned: boolean;
  /** Interned strings to append, by id. */
  readonly interned: string[];
  /** The receiver empties its other table first. */
  readonly resetOthers: boolean;
  /** Other strings to append. */
  readonly others: string[];
  /** The watermark after the batch: every event still to come is at or after it (-Infinity: none yet). */
  readonly watermark: number;
}

/** Strings the other table holds before it starts over, between batches. */
const OTHERS_LIMIT = 1 << 16;
const INITIAL_CAPACITY = 1 << 12;

/** Collects events into batches (the sending side). */
export class BatchWriter {
  private count = 0;
  private capacity = INITIAL_CAPACITY;
  private ts = new Float64Array(INITIAL_CAPACITY);
  private line = new Float64Array(INITIAL_CAPACITY);
  private ownIds: Array<[number, string]> = [];
  private user = new Int32Array(INITIAL_CAPACITY);
  private name = new Int32Array(INITIAL_CAPACITY);
  private channel = new Int32Array(INITIAL_CAPACITY);
  private value = new Float64Array(INITIAL_CAPACITY);
  /** The interner generation the receiver's interned table follows, and how many of its strings were sent. */
  private generation: number;
  private sentInterned = 0;
  private interned: string[] = [];
  private resetInterned = false;
  private readonly othersIndex = new Map<string, number>();
  private others: string[] = [];
  private resetOthers = false;
  private watermark = Number.NEGATIVE_INFINITY;

  /** `strings`: the interner whose ids LineFields' refs are (LineParser.strings). */
  constructor(private readonly strings: StringInterner) {
    this.generation = strings.generation;
  }

  /** Adds an event (the interner ids of its strings: LineParser.strings'). */
  add(e: RefEvent): void {
    if (this.count === this.capacity) this.grow();
    const i = this.count++;
    this.ts[i] = e.ts;
    this.line[i] = e.line;
    this.user[i] = this.indexOf(e.userId, e.userRef);
    this.name[i] = this.indexOf(e.name, e.nameRef);
    this.channel[i] = e.channelId === null ? -1 : this.indexOf(e.channelId, e.channelRef);
    this.value[i] = e.value ?? Number.NaN;
    if (e.ownId !== null) this.ownIds.push([i, e.ownId]);
  }

  setWatermark(watermark: number): void {
    this.watermark = watermark;
  }

  /** The batch so far, and the buffers to transfer with it; starts a new one. */
  take(): { batch: EventBatch; transfer: ArrayBuffer[] } {
    const n = this.count;
    const batch: EventBatch = {
      count: n,
      ts: this.ts.slice(0, n),
      line: this.line.slice(0, n),
      user: this.user.slice(0, n),
      name: this.name.slice(0, n),
      channel: this.channel.slice(0, n),
      value: this.value.slice(0, n),
      ownIds: this.ownIds,
      resetInterned: this.resetInterned,
      interned: this.interned,
      resetOthers: this.resetOthers,
      others: this.others,
      watermark: this.watermark,
    };
    this.count = 0;
    this.ownIds = [];
    this.interned = [];
    this.resetInterned = false;
    this.others = [];
    this.resetOthers = false;
    if (this.strings.generation !== this.generation) {
      // The interner started over: the next batch starts the receiver's table over too.
      this.generation = this.strings.generation;
      this.sentInterned = 0;
      this.resetInterned = true;
    }
    if (this.othersIndex.size >= OTHERS_LIMIT) {
      this.othersIndex.clear();
      this.resetOthers = true;
    }
    const transfer = [batch.ts, batch.line, batch.user, batch.name, batch.channel, batch.value].map((a) => a.buffer as ArrayBuffer);
    return { batch, transfer };
  }

  private indexOf(s: string, ref: number): number {
    if (ref >= 0 && this.strings.generation === this.generation) {
      // Ids count up from 0: send every string up to this one that the receiver does not have yet.
      const byId = this.strings.byId;
      while (this.sentInterned <= ref) this.interned.push(byId[this.sentInterned++] as string);
      return ref;
    }
    let k = this.othersIndex.get(s);
    if (k === undefined) {
      k = this.othersIndex.size;
      this.othersIndex.set(s, k);
      this.others.push(s);
    }
    return -2 - k;
  }

  private grow(): void {
    const c = this.capacity * 2;
    const grown = <T extends Float64Array | Int32Array>(a: T, make: (n: number) => T): T => {
      const b = make(c);
      b.set(a);
      return b;
    };
    this.ts = grown(this.ts, (n) => new Float64Array(n));
    this.line = grown(this.line, (n) => new Float64Array(n));
    this.user = grown(this.user, (n) => new Int32Array(n));
    this.name = grown(this.name, (n) => new Int32Array(n));
    this.channel = grown(this.channel, (n) => new Int32Array(n));
    this.value = grown(this.value, (n) => new Float64Array(n));
    this.capacity = c;
  }
}

/** A LineEvent that BatchReader fills again for every event. */
class ReusedEvent implements LineEvent {
  userId = '';
  name = '';
  ts = 0;
  channelId: string | null = null;
  value: number | null = null;
  line = 0;
  ownId: string | null = null;
}

/** Turns batches back into events (the receiving side). */
export class BatchReader {
  private interned: string[] = [];
  private others: string[] = [];
  private readonly event = new ReusedEvent();

  /**
   * Calls `each` with every event of the batch, in order. The event is one
   * object filled again for each (none to make per event): copy what you keep.
   */
  read(batch: EventBatch, each: (e: LineEvent) => void): void {
    if (batch.resetInterned) this.interned = [];
    for (const s of batch.interned) this.interned.push(s);
    if (batch.resetOthers) this.others = [];
    for (const s of batch.others) this.others.push(s);
    const e = this.event;
    let nextOwn = 0;
    for (let i = 0; i < batch.count; i++) {
      const c = batch.channel[i] as number;
      const v = batch.value[i] as number;
      let ownId: string | null = null;
      const own = batch.ownIds[nextOwn];
      if (own !== undefined && own[0] === i) {
        ownId = own[1];
        nextOwn++;
      }
      e.userId = this.text(batch.user[i] as number);
      e.name = this.text(batch.name[i] as number);
      e.ts = batch.ts[i] as number;
      e.channelId = c === -1 ? null : this.text(c);
      e.value = v === v ? v : null;
      e.line = batch.line[i] as number;
      e.ownId = ownId;
      each(e);
    }
  }

  private text(index: number): string {
    return (index >= 0 ? this.interned[index] : this.others[-2 - index]) as string;
  }
}
