/**
 * The gate in front of `sessions sessionize`'s reorder buffer: it drops
 * repeated explicit eventIds (as the service counts them duplicates) and
 * refuses events more than the allowed lateness behind the newest one
 * (LATE_EVENT), which is what keeps memory bounded (docs/cli.md, "Late
 * events and memory").
 */
import { iso } from './session-output.ts';
import { LineCode, LineRejection } from './event-line.ts';

/** Consumed entries of the id queue before it is compacted. */
const COMPACT_AFTER = 4_096;

export class Admission {
  private maxTs = Number.NEGATIVE_INFINITY;
  /** Explicit ids that may still repeat, with their timestamps. */
  private readonly seen = new Map<string, number>();
  /** The same ids in admission order, for pruning. */
  private order: string[] = [];
  private orderHead = 0;
  /** Largest (newest ts - ts) of a refused late event: the --lateness that would have kept them all. */
  largestLatenessMs = 0;

  /** latenessMs: how far behind the newest timestamp an event is still admitted (Infinity: always). */
  constructor(private readonly latenessMs: number) {}

  /** Newest admitted timestamp minus the lateness: no later event may precede it. */
  watermark(): number {
    return this.maxTs - this.latenessMs;
  }

  /** An event at `ts` with its own id or none: null (admitted), 'duplicate' (a repeated id), or its rejection (LATE_EVENT). */
  admit(ts: number, ownId: string | null): null | 'duplicate' | LineRejection {
    // Late first: whether a late line's id is still remembered depends on when prune() ran.
    if (ts < this.maxTs - this.latenessMs) {
      const behind = this.maxTs - ts;
      if (behind > this.largestLatenessMs) this.largestLatenessMs = behind;
      return new LineRejection(
        LineCode.LateEvent,
        `${iso(ts)} is ${behind / 1000} s behind ${iso(this.maxTs)}, more than --lateness allows`,
      );
    }
    if (ownId !== null && this.seen.has(ownId)) return 'duplicate';
    if (ts > this.maxTs) this.maxTs = ts;
    if (ownId !== null) {
      this.seen.set(ownId, ts);
      this.order.push(ownId);
    }
    return null;
  }

  /**
   * Forgets ids older than the watermark: a repeat of one is refused as late
   * anyway when it carries the same timestamp (the usual case: a line
   * exported twice). A repeat with a newer timestamp past that point is not
   * recognized (docs/cli.md).
   */
  prune(): void {
    const watermark = this.watermark();
    const order = this.order;
    while (this.orderHead < order.length) {
      const id = order[this.orderHead] as string;
      const ts = this.seen.get(id);
      if (ts !== undefined && ts >= watermark) break;
      this.seen.delete(id);
      this.orderHead++;
    }
    if (this.orderHead >= COMPACT_AFTER && this.orderHead * 2 > order.length) {
      this.order = order.slice(this.orderHead);
      this.orderHead = 0;
    }
  }
}
