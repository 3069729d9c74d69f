/**
 * `sessions sessionize` output: the core's closed sessions as JSON lines, one
 * JSON array, or CSV, with the service's Session fields plus topChannelCount
 * (docs/cli.md, "sessions sessionize"). Every value comes from the core's
 * snapshot; only the text is made here.
 */
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import type { ChannelStat, SessionSnapshot } from '../sessionizer/types.ts';
import { sessionId } from './session-id.ts';

export type OutputFormat = 'json' | 'jsonl' | 'csv';
export const OUTPUT_FORMATS: readonly OutputFormat[] = ['json', 'jsonl', 'csv'];

/** Output columns, in order. */
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
const BUFFER_BYTES = 1 << 20;

/**
 * A string as JSON: as it is between quotes when nothing in it needs an
 * escape (ids and names nearly always), else JSON.stringify's.
 */
function str(text: string): string {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || c === 0x22 || c === 0x5c || (c >= 0xd800 && c <= 0xdfff)) return JSON.stringify(text);
  }
  return `"${text}"`;
}
const MINUTE_MS = 60_000;
const DIGITS = Array.from({ length: 1000 }, (_, n) => String(n).padStart(3, '0'));
/** The last minute formatted: sessions come out roughly in time order, so most share it. */
let minuteStart = Number.NaN;
let minuteText = '';

/** Date.toISOString(), with the text up to the minute reused. */
function iso(ms: number): string {
  const m = Math.floor(ms / MINUTE_MS) * MINUTE_MS;
  if (m !== minuteStart) {
    minuteStart = m;
    minuteText = new Date(m).toISOString().slice(0, 17);
  }
  const inMinute = ms - m;
  const sec = Math.floor(inMinute / 1000);
  return `${minuteText}${(DIGITS[sec] as string).slice(1)}.${DIGITS[inMinute - sec * 1000] as string}Z`;
}

/** {key: count} as JSON text. */
function countsJson(counts: Readonly<Record<string, number>>): string {
  let out = '{';
  for (const k in counts) out += `${out.length === 1 ? '' : ','}${str(k)}:${counts[k] as number}`;
  return `${out}}`;
}

function channelsJson(channels: Readonly<Record<string, ChannelStat>>): string {
  let out = '{';
  for (const k in channels) out += `${out.length === 1 ? '' : ','}${str(k)}:${(channels[k] as ChannelStat).count}`;
  return `${out}}`;
}

function topCount(s: SessionSnapshot): number | null {
  return s.topChannel === null ? null : (s.channels[s.topChannel] as ChannelStat).count;
}

/** One session as a JSON object (no line break). */
export function sessionJson(s: SessionSnapshot): string {
  const top = s.topChannel === null ? 'null' : str(s.topChannel);
  return (
    `{"id":"${sessionId(s.userId, s.startedAt)}","userId":${str(s.userId)},"status":"${s.status}",` +
    `"startedAt":"${iso(s.startedAt)}","endedAt":"${iso(s.endedAt)}","durationSeconds":${s.durationMs / 1000},` +
    `"eventCount":${s.eventCount},"eventCounts":${countsJson(s.eventCounts)},"topChannel":${top},` +
    `"topChannelCount":${topCount(s)},"channels":${channelsJson(s.channels)},"totalValue":${s.totalValue},` +
    `"converted":${s.converted},"engaged":${s.engaged},"bounced":${s.bounced},` +
    `"firstEventName":${str(s.firstEventName)},"lastEventName":${str(s.lastEventName)},"closeReason":"${s.closeReason}"}`
  );
}

function csvCell(text: string): string {
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** One session as a CSV row (no line break): eventCounts and channels as JSON text, null as an empty cell. */
export function sessionCsv(s: SessionSnapshot): string {
  const top = topCount(s);
  const cells: Array<string | null> = [
    sessionId(s.userId, s.startedAt),
    s.userId,
    s.status,
    iso(s.startedAt),
    iso(s.endedAt),
    String(s.durationMs / 1000),
    String(s.eventCount),
    countsJson(s.eventCounts),
    s.topChannel,
    top === null ? null : String(top),
    channelsJson(s.channels),
    String(s.totalValue),
    String(s.converted),
    String(s.engaged),
    String(s.bounced),
    s.firstEventName,
    s.lastEventName,
    s.closeReason,
  ];
  return cells.map((c) => (c === null ? '' : csvCell(c))).join(',');
}

/** What an output starts with: the CSV header, the JSON array's bracket. */
export function outputStart(format: OutputFormat): string {
  return format === 'csv' ? `${SESSION_COLUMNS.join(',')}\n` : format === 'json' ? '[' : '';
}

/** What an output of `count` sessions ends with. */
export function outputEnd(format: OutputFormat, count: number): string {
  return format !== 'json' ? '' : count === 0 ? ']\n' : '\n]\n';
}

/**
 * Writes sessions in the chosen format, buffered; flush() waits while the
 * stream is full, so a slow reader slows the input instead of filling memory.
 */
export class SessionWriter {
  private buf = Buffer.allocUnsafe(BUFFER_BYTES);
  private used = 0;
  private count = 0;
  /** The first error of the stream (EPIPE when the reader went away): the next flush throws it. */
  private failure: Error | null = null;

  /**
   * framed false: only the sessions, for one of several writers sharing an
   * output (sessionize-threaded.ts): no CSV header or JSON brackets, and
   * every JSON session after a comma.
   */
  constructor(
    private readonly out: Writable,
    private readonly format: OutputFormat,
    private readonly framed = true,
  ) {
    out.on('error', (error: Error) => {
      this.failure ??= error;
    });
    if (framed) this.put(outputStart(format));
  }

  /** Sessions written so far. */
  get written(): number {
    return this.count;
  }

  write(s: SessionSnapshot): void {
    switch (this.format) {
      case 'jsonl':
        this.put(`${sessionJson(s)}\n`);
        break;
      case 'json':
        this.put(`${this.count === 0 && this.framed ? '\n' : ',\n'}${sessionJson(s)}`);
        break;
      case 'csv':
        this.put(`${sessionCsv(s)}\n`);
        break;
      default:
        throw new Error(`unknown case ${JSON.stringify(this.format satisfies never)}`);
    }
    this.count++;
  }

  /**
   * Encodes text into the buffer at once: the session's strings then die
   * young, where a growing string would keep them all until the next write.
   */
  private put(text: string): void {
    if (this.used + text.length * 3 > this.buf.length) {
      this.hand();
      if (text.length * 3 > this.buf.length) this.buf = Buffer.allocUnsafe(text.length * 3);
    }
    this.used += this.buf.write(text, this.used);
  }

  /** Waits while the stream is full; writes the buffer too when `force` (the end). */
  async flush(force = false): Promise<void> {
    if (this.failure !== null) throw this.failure;
    if (force) this.hand();
    if (this.out.writableNeedDrain) await once(this.out, 'drain');
    if (this.failure !== null) throw this.failure;
  }

  private hand(): void {
    if (this.used === 0) return;
    this.out.write(this.buf.subarray(0, this.used));
    // The stream may still hold that buffer: a new one for what comes next.
    this.buf = Buffer.allocUnsafe(BUFFER_BYTES);
    this.used = 0;
  }

  /** Closes the JSON array (json) and writes what is buffered. */
  async end(): Promise<void> {
    if (this.framed) this.put(outputEnd(this.format, this.count));
    await this.flush(true);
  }
}
