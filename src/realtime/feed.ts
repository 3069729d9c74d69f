/** How a {@link Reader} reports to whoever created it. */
export interface ReaderHooks {
  /** The feed cut the reader off: it fell more than `limit` messages behind and will never get `dropped` of them. */
  overflowed(dropped: number, limit: number): void;
  /** The reader ended (return, end, close); `overflowed` when the feed had cut it off before. */
  left(overflowed: boolean): void;
}

// Stored messages live in segments of 1,024 so that dropping what every
// reader has read is a shift of whole segments, never a copy of the rest.
const SEGMENT_BITS = 10;
const SEGMENT = 1 << SEGMENT_BITS;
const OFFSET_MASK = SEGMENT - 1;

const DONE: IteratorResult<never> = { value: undefined, done: true };

/**
 * One stream of messages shared by its readers, each with its own position
 * (a sequence number). A message is stored once, and only while some reader
 * has yet to read it: readers waiting in next() get it handed over, so when
 * every reader keeps up nothing is stored at all. A reader that falls more
 * than its `maxLag` messages behind is cut off; the check runs only when a
 * reader could have crossed its limit (and once per segment to drop read
 * segments), not on every message.
 */
export class Feed<T> {
  /** Stored messages; segments[0][0] has sequence number `base`. */
  private segments: T[][] = [];
  private base = 0;
  private next = 0;
  private readonly readers = new Set<Reader<T>>();
  /** Readers waiting in next(): they have read everything. */
  private parked: Array<Reader<T>> = [];
  /** Readers with stored messages left to read. Invariant: 0 means nothing is stored. */
  private behind = 0;
  /** Sequence number at which some reader may pass its limit. */
  private checkAt = Number.POSITIVE_INFINITY;

  /** Sequence number of the next message. */
  get head(): number {
    return this.next;
  }

  /** Messages held in memory: from the oldest segment a reader still needs to the head. */
  get retained(): number {
    return this.next - this.base;
  }

  /** Live readers. */
  get size(): number {
    return this.readers.size;
  }

  /** A reader of the messages published from now on. */
  join(maxLag: number, hooks: ReaderHooks): Reader<T> {
    const reader = new Reader(this, maxLag, hooks, this.next);
    this.readers.add(reader);
    this.checkAt = Math.min(this.checkAt, this.next + Math.min(maxLag + 1, SEGMENT));
    return reader;
  }

  /** Appends one message: waiting readers get it now, the others read it later. */
  publish(item: T): void {
    const parked = this.parked;
    const busy = this.readers.size - parked.length;
    this.next += 1;
    if (busy > 0) {
      this.store(item);
      this.behind = busy;
    } else {
      this.base = this.next;
    }
    if (parked.length > 0) {
      this.parked = [];
      for (const reader of parked) reader.deliver(item, this.next);
    }
    if (busy > 0 && this.next >= this.checkAt) this.check();
  }

  /** Ends every reader. */
  close(): void {
    for (const reader of [...this.readers]) reader.end();
  }

  /** The stored message `seq` (base <= seq < head). */
  at(seq: number): T {
    const offset = seq - this.base;
    return (this.segments[offset >> SEGMENT_BITS] as T[])[offset & OFFSET_MASK] as T;
  }

  /** A reader read the last stored message. */
  caughtUp(): void {
    this.behind -= 1;
    if (this.behind === 0) this.clear();
  }

  /** A reader waits for the next message. */
  park(reader: Reader<T>): void {
    this.parked.push(reader);
  }

  /** Removes a reader; returns how many messages it had not read. */
  leave(reader: Reader<T>): number {
    if (!this.readers.delete(reader)) return 0;
    const unread = this.next - reader.position;
    if (unread > 0) {
      this.behind -= 1;
      if (this.behind === 0) this.clear();
    } else {
      const at = this.parked.indexOf(reader);
      if (at >= 0) this.parked.splice(at, 1);
    }
    return unread;
  }

  private store(item: T): void {
    const offset = this.next - 1 - this.base;
    const index = offset >> SEGMENT_BITS;
    if (index === this.segments.length) this.segments.push([]);
    (this.segments[index] as T[]).push(item);
  }

  private clear(): void {
    this.segments = [];
    this.base = this.next;
  }

  /** Cuts off readers past their limit and drops the segments every reader has read. */
  private check(): void {
    const head = this.next;
    let oldest = head;
    let due = head + SEGMENT;
    const cut: Array<{ reader: Reader<T>; dropped: number }> = [];
    for (const reader of this.readers) {
      const lag = head - reader.position;
      if (lag > reader.maxLag) {
        cut.push({ reader, dropped: lag });
        continue;
      }
      oldest = Math.min(oldest, reader.position);
      due = Math.min(due, head + reader.maxLag - lag + 1);
    }
    this.checkAt = due;
    for (const { reader, dropped } of cut) {
      this.leave(reader);
      reader.cutOff(dropped);
    }
    while (this.segments.length > 0 && this.base + SEGMENT <= oldest) {
      this.segments.shift();
      this.base += SEGMENT;
    }
    // Last: the hooks may end other readers (a cut connection), of this feed too.
    for (const { reader } of cut) reader.overflowed();
  }
}

type ReaderState = 'reading' | 'overflowed' | 'ended';

/** One subscriber's position in a {@link Feed}, as an async iterator. */
export class Reader<T> implements AsyncIterableIterator<T> {
  private cursor: number;
  private state: ReaderState = 'reading';
  private waiting: ((result: IteratorResult<T>) => void) | null = null;
  private lost = 0;

  constructor(
    private readonly feed: Feed<T>,
    readonly maxLag: number,
    private readonly hooks: ReaderHooks,
    start: number,
  ) {
    this.cursor = start;
  }

  /** Sequence number of the next message this reader reads. */
  get position(): number {
    return this.cursor;
  }

  next(): Promise<IteratorResult<T>> {
    if (this.state !== 'reading') return Promise.resolve(DONE);
    const feed = this.feed;
    if (this.cursor < feed.head) {
      const value = feed.at(this.cursor);
      this.cursor += 1;
      if (this.cursor === feed.head) feed.caughtUp();
      return Promise.resolve({ value, done: false });
    }
    return new Promise((resolve) => {
      this.waiting = resolve;
      feed.park(this);
    });
  }

  return(): Promise<IteratorResult<T>> {
    this.end();
    return Promise.resolve(DONE);
  }

  /**
   * Stops reading (a pending next() finishes) and returns how many messages
   * this reader leaves undelivered: the unread ones, or, once cut off for
   * overflow, the ones it lost then. 0 when it had already ended.
   */
  end(): number {
    switch (this.state) {
      case 'reading': {
        this.state = 'ended';
        const unread = this.feed.leave(this);
        this.wake(DONE);
        this.hooks.left(false);
        return unread;
      }
      case 'overflowed':
        this.state = 'ended';
        this.hooks.left(true);
        return this.lost;
      case 'ended':
        return 0;
      default:
        throw new Error(`unknown reader state ${(this.state satisfies never) as string}`);
    }
  }

  /** Hands over a message published while this reader waited. */
  deliver(item: T, head: number): void {
    this.cursor = head;
    this.wake({ value: item, done: false });
  }

  /** The feed removed this reader for overflow, losing `dropped` messages; it ends at its next read. */
  cutOff(dropped: number): void {
    this.state = 'overflowed';
    this.lost = dropped;
  }

  /** Reports the overflow (after the feed's state is consistent again). */
  overflowed(): void {
    this.hooks.overflowed(this.lost, this.maxLag);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  private wake(result: IteratorResult<T>): void {
    const resolve = this.waiting;
    this.waiting = null;
    resolve?.(result);
  }
}
