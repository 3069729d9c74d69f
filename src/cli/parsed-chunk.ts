/**
 * A chunk of lines parsed by a worker, as it crosses to the main thread:
 * numbers in typed arrays (moved, not copied) and the strings of all events
 * in one text, NUL-separated (the service's checks refuse NUL in every field
 * and JSON text escapes it, so it cannot occur inside one).
 */
import type { CheckedEvent } from '../ingest/validate.ts';
import type { LineRefusal, LineSink } from './line-events.ts';

export interface ParsedChunk {
  /** The chunk's position in the file (0, 1, 2, ...). */
  readonly index: number;
  /** Lines in the chunk. */
  readonly lines: number;
  /** Per event: userId, name, channelId, eventId, properties ('' for null), NUL-separated. */
  readonly text: string;
  readonly ts: Float64Array;
  /** NaN for no value (a valid value is finite). */
  readonly value: Float64Array;
  /** Line of each event within the chunk (0-based). */
  readonly line: Int32Array;
  /** Refused lines, line numbers within the chunk (0-based). */
  readonly refusals: LineRefusal[];
}

const FIELDS = 5;
const SEP = '\u0000';

/** Collects a chunk's events (a LineSink for readLines numbering lines from 0). */
export class ChunkBuilder implements LineSink {
  private parts: string[] = [];
  private readonly ts: number[] = [];
  private readonly value: number[] = [];
  private readonly line: number[] = [];
  readonly refusals: LineRefusal[] = [];

  event(e: CheckedEvent, line: number): void {
    this.parts.push(e.userId, e.name, e.channelId ?? '', e.eventId ?? '', e.properties ?? '');
    this.ts.push(e.ts);
    this.value.push(e.value ?? Number.NaN);
    this.line.push(line);
  }

  refuse(r: LineRefusal): void {
    this.refusals.push(r);
  }

  build(index: number, lines: number): ParsedChunk {
    return {
      index,
      lines,
      text: this.parts.join(SEP),
      ts: Float64Array.from(this.ts),
      value: Float64Array.from(this.value),
      line: Int32Array.from(this.line),
      refusals: this.refusals,
    };
  }
}

/** Replays a chunk's events and refusals into `sink` in line order, numbering lines from `firstLine`. */
export function replayChunk(c: ParsedChunk, firstLine: number, sink: LineSink): void {
  const parts = c.text === '' ? [] : c.text.split(SEP);
  let r = 0;
  for (let i = 0; i < c.ts.length; i++) {
    const line = c.line[i] as number;
    while (r < c.refusals.length && (c.refusals[r] as LineRefusal).line < line) refuseAt(c.refusals[r++] as LineRefusal, firstLine, sink);
    const p = i * FIELDS;
    const value = c.value[i] as number;
    sink.event(
      {
        userId: parts[p] as string,
        name: parts[p + 1] as string,
        channelId: nullIfEmpty(parts[p + 2] as string),
        eventId: nullIfEmpty(parts[p + 3] as string),
        properties: nullIfEmpty(parts[p + 4] as string),
        ts: c.ts[i] as number,
        value: Number.isNaN(value) ? null : value,
      },
      firstLine + line,
    );
  }
  while (r < c.refusals.length) refuseAt(c.refusals[r++] as LineRefusal, firstLine, sink);
}

function refuseAt(r: LineRefusal, firstLine: number, sink: LineSink): void {
  sink.refuse({ line: firstLine + r.line, code: r.code, message: r.message });
}

function nullIfEmpty(s: string): string | null {
  return s === '' ? null : s;
}
