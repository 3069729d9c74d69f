/**
 * `sessions sessionize` output: sessions as JSON lines, one JSON array, or
 * CSV, with the service's Session fields (docs/cli.md, "sessions sessionize").
 *
 * JSON goes straight into bytes (session-json.ts): built as strings, the
 * pieces and their concatenation trees cost more than everything else in
 * sessionize. CSV, less used, is built as text.
 */
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import type { SessionRules } from '../sessionizer/types.ts';
import type { Counts, SessionTally } from './session-tally.ts';
import { ByteWriter } from './byte-writer.ts';
import { byCountThenName, writeSessionJson } from './session-json.ts';
import { sessionId } from './session-id.ts';

export type OutputFormat = 'json' | 'jsonl' | 'csv';
export const OUTPUT_FORMATS: readonly OutputFormat[] = ['json', 'jsonl', 'csv'];

/** Output columns, in order: the service's Session fields plus topChannelCount. */
export const SESSION_COLUMNS = [
  'id',
  'userId',
  'status',
  'startedAt',
  'endedAt',
  'durationSeconds',
  'eventCount',
  'eventCounts',
  'topChannel',
  'topChannelCount',
  'channels',
  'totalValue',
  'converted',
  'engaged',
  'bounced',
  'firstEventName',
  'lastEventName',
  'closeReason',
] as const;

/** Bytes buffered before a write: few, large writes. */
const FLUSH_BYTES = 1 << 20;

/** RFC 3339 UTC with milliseconds: Date.toISOString(), null for times it cannot show. */
export function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** A Counts as JSON text {key: count}, entries in `order`. */
function countsJson(c: Counts, order: readonly number[]): string {
  return `{${order.map((k) => `${JSON.stringify(c.keyAt(k))}:${c.countAt(k)}`).join(',')}}`;
}

function csvCell(text: string): string {
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** One session as a CSV row (no line break): eventCounts and channels as their JSON text, null as an empty cell. */
function sessionCsv(s: SessionTally, id: string, rules: SessionRules): string {
  const top = s.topChannelCount;
  const channels = s.channels;
  const cells: Array<string | null> = [
    id,
    s.userId,
    'CLOSED',
    iso(s.startedAt),
    iso(s.endedAt),
    String(s.durationMs / 1000),
    String(s.eventCount),
    countsJson(s.names, byCountThenName(s.names)),
    s.topChannel,
    top === null ? null : String(top),
    channels === null ? '{}' : countsJson(channels, Array.from({ length: channels.size }, (_, i) => i)),
    String(s.totalValue),
    String(s.converted),
    String(s.engaged(rules)),
    String(s.bounced),
    s.firstEventName,
    s.lastEventName,
    s.closeReason,
  ];
  return cells.map((c) => (c === null ? '' : csvCell(c))).join(',');
}

/**
 * Writes sessions as they become final, each with its derived id
 * (session-id.ts). jsonl and csv stream a line per session; json streams
 * one array (valid once end() ran). Output is buffered, and flush() waits
 * for the stream to drain, so a slow reader slows the input instead of
 * filling memory.
 */
export class SessionWriter {
  private readonly w = new ByteWriter(FLUSH_BYTES * 2);
  private count = 0;
  /** The first error of the stream (EPIPE when the reader went away): the next flush throws it. */
  private failure: Error | null = null;

  constructor(
    private readonly out: Writable,
    private readonly format: OutputFormat,
    private readonly rules: SessionRules,
    /** Session ids (tests); default: derived from the user and the start (session-id.ts). */
    private readonly newId: (() => string) | null = null,
  ) {
    out.on('error', (error: Error) => {
      this.failure ??= error;
    });
    if (format === 'csv') this.w.ascii(`${SESSION_COLUMNS.join(',')}\n`);
    else if (format === 'json') this.w.ascii('[');
  }

  /** Sessions written so far. */
  get written(): number {
    return this.count;
  }

  write(s: SessionTally): void {
    const id = this.newId === null ? null : this.newId();
    switch (this.format) {
      case 'jsonl':
        writeSessionJson(this.w, s, id, this.rules);
        this.w.ascii('\n');
        break;
      case 'json':
        this.w.ascii(this.count === 0 ? '\n' : ',\n');
        writeSessionJson(this.w, s, id, this.rules);
        break;
      case 'csv':
        this.w.utf8(sessionCsv(s, id ?? sessionId(s.userId, s.startedAt), this.rules));
        this.w.ascii('\n');
        break;
      default:
        throw new Error(`unknown case ${JSON.stringify(this.format satisfies never)}`);
    }
    this.count++;
    // Hand a full buffer over now rather than letting it grow: one chunk of
    // input can make megabytes of sessions. flush() waits for the stream.
    if (this.w.length >= FLUSH_BYTES) this.hand();
  }

  /** Waits while the stream is full; writes the buffer too when `force` (the end). */
  async flush(force = false): Promise<void> {
    if (this.failure !== null) throw this.failure;
    if (force && this.w.length > 0) this.hand();
    if (this.out.writableNeedDrain) await once(this.out, 'drain');
  }

  private hand(): void {
    const chunk = this.w.take();
    this.out.write(chunk, () => this.w.recycle(chunk));
  }

  /** Closes the JSON array (json) and writes what is buffered. */
  async end(): Promise<void> {
    if (this.format === 'json') this.w.ascii(this.count === 0 ? ']\n' : '\n]\n');
    await this.flush(true);
  }
}

