/**
 * The events of one chunk of lines that go to one user partition, as they
 * cross between threads: numbers in typed arrays (moved, not copied) and the
 * strings of all events in one text, NUL-separated (the service's checks
 * refuse NUL in every field and JSON text escapes it, so it cannot occur
 * inside one). Properties cross only when a definition's filter reads them:
 * otherwise only the derived id of an event that ties with another of its
 * user needs them, and the receiving thread reads that line again
 * (sessionize-worker.ts). A web export's properties are most of its text:
 * 1M lines of them, 11% less wall time.
 */
import type { CheckedEvent } from '../ingest/validate.ts';
import { partitionOf as userPartition } from '../cluster/partition.ts';

export interface EventPart {
  /** The chunk's position in the file (0, 1, 2, ...). */
  readonly index: number;
  /** Newest timestamp of every valid line of the chunk, all partitions (-Infinity: none). */
  readonly newest: number;
  readonly count: number;
  /** Per event: userId, name, channelId, eventId, properties ('' for null; '' always when not `withProperties`), NUL-separated. */
  readonly text: string;
  /** Whether `text` carries the properties. */
  readonly withProperties: boolean;
  /** The events themselves instead of `text`, for a part that stays in its thread. */
  readonly events: CheckedEvent[] | null;
  readonly ts: Float64Array;
  /** NaN for no value (a valid value is finite). */
  readonly value: Float64Array;
  /** Newest timestamp of the chunk's valid lines before the event's, all partitions. */
  readonly before: Float64Array;
  /** Line of each event within the chunk (0-based). */
  readonly line: Int32Array;
}

/** User partitions: one per worker thread. */
export const PARTITIONS = 2;

/** The worker thread that cuts a user's sessions: the cluster's user partition, over PARTITIONS. */
export function partitionOf(userId: string): number {
  return userPartition(userId, PARTITIONS);
}

const FIELDS = 5;
const SEP = '\u0000';

/** Collects one partition's events of a chunk; `local`: for this thread (the events are kept, not encoded). */
export class PartBuilder {
  private parts: string[] = [];
  private readonly events: CheckedEvent[] = [];
  private ts = new Float64Array(1024);
  private value = new Float64Array(1024);
  private before = new Float64Array(1024);
  private line = new Int32Array(1024);
  private n = 0;

  /** local: for this thread (the events are kept, not encoded); withProperties: the encoded events carry their properties. */
  constructor(
    private readonly local: boolean,
    private readonly withProperties: boolean,
  ) {}

  add(e: CheckedEvent, line: number, before: number): void {
    if (this.n === this.ts.length) this.grow();
    if (this.local) this.events.push(e);
    else this.parts.push(e.userId, e.name, e.channelId ?? '', e.eventId ?? '', this.withProperties ? (e.properties ?? '') : '');
    this.ts[this.n] = e.ts;
    this.value[this.n] = e.value ?? Number.NaN;
    this.before[this.n] = before;
    this.line[this.n] = line;
    this.n++;
  }

  private grow(): void {
    const size = this.ts.length * 2;
    const f64 = (a: Float64Array<ArrayBuffer>): Float64Array<ArrayBuffer> => {
      const b = new Float64Array(size);
      b.set(a);
      return b;
    };
    this.ts = f64(this.ts);
    this.value = f64(this.value);
    this.before = f64(this.before);
    const line = new Int32Array(size);
    line.set(this.line);
    this.line = line;
  }

  build(index: number, newest: number): EventPart {
    const n = this.n;
    return {
      index,
      newest,
      count: n,
      text: this.local ? '' : this.parts.join(SEP),
      withProperties: this.local || this.withProperties,
      events: this.local ? this.events : null,
      ts: this.ts.slice(0, n),
      value: this.value.slice(0, n),
      before: this.before.slice(0, n),
      line: this.line.slice(0, n),
    };
  }
}

/** Receives a part's events again, in line order. */
export interface PartSink {
  /** The newest timestamp of the lines before the next event (all partitions). */
  raiseNewest(ts: number): void;
  /** `chunk`: the properties did not cross; they are those of line `line` of that chunk. */
  event(e: CheckedEvent, line: number, chunk?: number): void;
}

/** Replays a part into `sink` (lines within the chunk, 0-based), then raises the newest to the chunk's. */
export function replayPart(p: EventPart, sink: PartSink): void {
  const local = p.events;
  const parts = p.count === 0 || local !== null ? [] : p.text.split(SEP);
  for (let i = 0; i < p.count; i++) {
    sink.raiseNewest(p.before[i] as number);
    if (local !== null) {
      sink.event(local[i] as CheckedEvent, p.line[i] as number);
      continue;
    }
    const at = i * FIELDS;
    const value = p.value[i] as number;
    sink.event(
      {
        userId: parts[at] as string,
        name: parts[at + 1] as string,
        channelId: nullIfEmpty(parts[at + 2] as string),
        eventId: nullIfEmpty(parts[at + 3] as string),
        properties: nullIfEmpty(parts[at + 4] as string),
        ts: p.ts[i] as number,
        value: Number.isNaN(value) ? null : value,
        // The file's sessions carry no attribution fields (docs/cli.md).
        attribution: null,
      },
      p.line[i] as number,
      p.withProperties ? undefined : p.index,
    );
  }
  sink.raiseNewest(p.newest);
}

function nullIfEmpty(s: string): string | null {
  return s === '' ? null : s;
}
