/**
 * Holds admitted events until no event still to come can precede them, then
 * gives them out in key order (ts, eventId): the order the session rules read.
 *
 * Input files are mostly in time order, so events go to a sorted queue:
 * appended (O(1)) when they do not precede the newest held one, slid in when
 * they belong among its last few (a little local disorder is common); only
 * events further out of order go to a binary heap. The smallest event is the
 * smaller of the two heads.
 */
import { eventBefore, type LineEvent } from './line-event.ts';

/** Queue entries consumed before the array is compacted. */
const COMPACT_AFTER = 4_096;
/** How far back from the queue's end an event may be slid in; further out of order, it goes to the heap. */
const SLIDE_LIMIT = 16;

/** `E`: the events held (LineEvent, or one that carries more). */
export class ReorderBuffer<E extends LineEvent = LineEvent> {
  /** In key order; live entries are queue[queueHead..]. */
  private queue: E[] = [];
  private queueHead = 0;
  /** Binary min-heap by key of the events that arrived out of order... */
  private readonly heap: E[] = [];
  /** ...and their timestamps, side by side: most comparisons then read no event. */
  private heapTs = new Float64Array(64);

  /** Events held. */
  get size(): number {
    return this.queue.length - this.queueHead + this.heap.length;
  }

  push(e: E): void {
    const q = this.queue;
    const head = this.queueHead;
    let at = q.length;
    const stop = Math.max(head, at - SLIDE_LIMIT);
    while (at > stop && eventBefore(e, q[at - 1] as LineEvent)) at--;
    if (at === q.length) {
      q.push(e);
    } else if (at > stop || at === head) {
      // Its place is among the last few (or at the very front): shift those up by one.
      q.push(q[q.length - 1] as E);
      for (let k = q.length - 2; k > at; k--) q[k] = q[k - 1] as E;
      q[at] = e;
    } else {
      this.heapPush(e);
    }
  }

  /** Timestamp of the smallest held event; Infinity when empty. */
  peekTs(): number {
    const q = this.queue[this.queueHead];
    const h = this.heap[0];
    const hts = h === undefined ? Number.POSITIVE_INFINITY : (this.heapTs[0] as number);
    return q === undefined || hts < q.ts ? hts : q.ts;
  }

  /** Removes and returns the smallest held event (undefined when empty). */
  pop(): E | undefined {
    const q = this.queue[this.queueHead];
    const h = this.heap[0];
    if (q !== undefined && (h === undefined || eventBefore(q, h))) {
      this.queue[this.queueHead++] = undefined as unknown as E; // let it be collected
      if (this.queueHead === this.queue.length) {
        this.queue.length = 0;
        this.queueHead = 0;
      } else if (this.queueHead >= COMPACT_AFTER && this.queueHead * 2 >= this.queue.length) {
        this.queue = this.queue.slice(this.queueHead);
        this.queueHead = 0;
      }
      return q;
    }
    return h === undefined ? undefined : this.heapPop();
  }

  private heapPush(e: E): void {
    const n = this.heap.length;
    if (n === this.heapTs.length) {
      const grown = new Float64Array(Math.max(64, n * 2));
      grown.set(this.heapTs);
      this.heapTs = grown;
    }
    const a = this.heap;
    const ts = this.heapTs;
    a.push(e);
    let i = n;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const pts = ts[parent] as number;
      if (pts < e.ts || (pts === e.ts && !eventBefore(e, a[parent] as LineEvent))) break;
      a[i] = a[parent] as E;
      ts[i] = pts;
      i = parent;
    }
    a[i] = e;
    ts[i] = e.ts;
  }

  private heapPop(): E {
    const a = this.heap;
    const ts = this.heapTs;
    const top = a[0] as E;
    const last = a.pop() as E;
    const n = a.length;
    if (n > 0) {
      const lastTs = last.ts;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        let c = l;
        const r = l + 1;
        if (r < n) {
          const lt = ts[l] as number;
          const rt = ts[r] as number;
          if (rt < lt || (rt === lt && eventBefore(a[r] as LineEvent, a[l] as LineEvent))) c = r;
        }
        const ct = ts[c] as number;
        if (ct > lastTs || (ct === lastTs && !eventBefore(a[c] as LineEvent, last))) break;
        a[i] = a[c] as E;
        ts[i] = ct;
        i = c;
      }
      a[i] = last;
      ts[i] = lastTs;
    }
    return top;
  }
}
