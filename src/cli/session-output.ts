/**
 * `sessions sessionize` output: the core's closed sessions as JSON lines, one
 * JSON array, or CSV, with the service's Session fields plus topChannelCount
 * (docs/cli.md, "sessions sessionize"). Every value comes from the core
 * (closed-session.ts); only the text is made here.
 */
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { CHANNEL_STRIDE, NAME_STRIDE, type ClosedSession } from '../sessionizer/closed-session.ts';
import type { CloseReason } from '../sessionizer/types.ts';
import { writeSessionId } from './session-id.ts';

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

/** Bytes gathered before a write: few, large writes. */
const BUFFER_BYTES = 1 << 20;
/** Largest integer written digit by digit; beyond it (and for fractions) String(n) is copied. */
const SMALL_INT = 1e9;
const DAY_MS = 86_400_000;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const NEWLINE = 0x0a;
const HEX = '0123456789abcdef';
/** 10000-01-01T00:00:00Z: Date.toISOString() writes later (and negative) years otherwise. */
const LAST_4_DIGIT_YEAR_MS = 253_402_300_800_000;

const encoder = new TextEncoder();
const bytesOf = (text: string): Uint8Array => encoder.encode(text);
// The constant parts of a session's text (J_: JSON, C_: CSV), encoded once.
const J_ID = bytesOf('{"id":"');
const J_DEFINITION = bytesOf('","definition":"');
const J_USER = bytesOf('","userId":');
const J_STARTED = bytesOf(',"status":"CLOSED","startedAt":"');
const J_ENDED = bytesOf('","endedAt":"');
const J_DURATION = bytesOf('","durationSeconds":');
const J_EVENT_COUNT = bytesOf(',"eventCount":');
const J_EVENT_COUNTS = bytesOf(',"eventCounts":');
const J_TOP_CHANNEL = bytesOf(',"topChannel":');
const NULL = bytesOf('null');
const J_TOP_COUNT = bytesOf(',"topChannelCount":');
const J_CHANNELS = bytesOf(',"channels":');
const J_TOTAL_VALUE = bytesOf(',"totalValue":');
const J_LAST_NAME = bytesOf(',"lastEventName":');
/** The session's end, per close reason. */
const closeReasonEnd = (reason: CloseReason): Uint8Array => bytesOf(`,"closeReason":"${reason}"}`);
const J_CLOSE_REASON: Readonly<Record<CloseReason, Uint8Array>> = {
  INACTIVITY: closeReasonEnd('INACTIVITY'),
  MAX_DURATION: closeReasonEnd('MAX_DURATION'),
  FLUSH: closeReasonEnd('FLUSH'),
};
const C_STATUS = bytesOf(',CLOSED,');
/** The three flags and the next key, in one piece per combination (index: converted 4, engaged 2, bounced 1). */
const J_FLAGS = Array.from({ length: 8 }, (_, f) =>
  bytesOf(`,"converted":${(f & 4) !== 0},"engaged":${(f & 2) !== 0},"bounced":${(f & 1) !== 0},"firstEventName":`),
);
const C_TRUE = bytesOf(',true');
const C_FALSE = bytesOf(',false');
const C_TRUE_COMMA = bytesOf(',true,');
const C_FALSE_COMMA = bytesOf(',false,');

/** The column names, in order: the CSV header. Tagged output (--definitions) has `definition` after `id`. */
export function outputStart(format: OutputFormat, tagged: boolean): string {
  const columns: readonly string[] = tagged ? ['id', 'definition', ...SESSION_COLUMNS.slice(1)] : SESSION_COLUMNS;
  return format === 'csv' ? `${columns.join(',')}\n` : format === 'json' ? '[' : '';
}

/** What an output of `count` sessions ends with. */
export function outputEnd(format: OutputFormat, count: number): string {
  return format !== 'json' ? '' : count === 0 ? ']\n' : '\n]\n';
}

/**
 * Writes sessions in the chosen format. Each session is encoded straight
 * into a buffer as UTF-8, with no text built on the way (a file makes
 * hundreds of thousands of sessions: their strings would be most of the
 * garbage); full buffers go to the stream whole. flush() waits while the
 * stream is full, so a slow reader slows the input instead of filling
 * memory. The text is what JSON.stringify would write for each value (CSV:
 * RFC 4180 quoting, eventCounts and channels as JSON text, null as an empty
 * cell).
 */
export class SessionWriter {
  private buf = new Uint8Array(BUFFER_BYTES);
  private pos = 0;
  private count = 0;
  /** The first error of the stream (EPIPE when the reader went away): the next flush throws it. */
  private failure: Error | null = null;
  /** The day of the last date written, and its first 11 bytes ("2016-11-08T"): sessions come in near time order. */
  private day = Number.NaN;
  private readonly dayBytes = new Uint8Array(11);

  /**
   * framed false: only the sessions, for one of several writers sharing an
   * output (sessionize-threaded.ts): no CSV header or JSON brackets, and
   * every JSON session after a comma.
   */
  constructor(
    private readonly out: Writable,
    private readonly format: OutputFormat,
    private readonly framed = true,
    tagged = false,
  ) {
    out.on('error', (error: Error) => {
      this.failure ??= error;
    });
    if (framed) this.ascii(outputStart(format, tagged));
  }

  /** Sessions written so far. */
  get written(): number {
    return this.count;
  }

  /** Writes a session; `definition` tags it (a definition name is ASCII: [a-z][a-z0-9_]*), null leaves it untagged. */
  write(s: ClosedSession, definition: string | null = null): void {
    switch (this.format) {
      case 'jsonl':
        this.json(s, definition);
        this.byte(NEWLINE);
        break;
      case 'json':
        this.ascii(this.count === 0 && this.framed ? '\n' : ',\n');
        this.json(s, definition);
        break;
      case 'csv':
        this.csv(s, definition);
        this.byte(NEWLINE);
        break;
      default:
        throw new Error(`unknown case ${JSON.stringify(this.format satisfies never)}`);
    }
    this.count++;
  }

  private json(s: ClosedSession, definition: string | null): void {
    this.bytes(J_ID);
    this.id(s, definition);
    if (definition !== null) {
      this.bytes(J_DEFINITION);
      this.ascii(definition);
    }
    this.bytes(J_USER);
    this.string(s.userId, QUOTE);
    this.bytes(J_STARTED);
    this.date(s.startedAt);
    this.bytes(J_ENDED);
    this.date(s.endedAt);
    this.bytes(J_DURATION);
    this.number(s.durationMs / 1000);
    this.bytes(J_EVENT_COUNT);
    this.number(s.eventCount);
    this.bytes(J_EVENT_COUNTS);
    this.counts(s.names, NAME_STRIDE, QUOTE);
    this.bytes(J_TOP_CHANNEL);
    if (s.topChannel === null) this.bytes(NULL);
    else this.string(s.topChannel, QUOTE);
    this.bytes(J_TOP_COUNT);
    if (s.topChannelCount === null) this.bytes(NULL);
    else this.number(s.topChannelCount);
    this.bytes(J_CHANNELS);
    this.counts(s.channels, CHANNEL_STRIDE, QUOTE);
    this.bytes(J_TOTAL_VALUE);
    this.number(s.totalValue);
    this.bytes(J_FLAGS[(s.converted ? 4 : 0) + (s.engaged ? 2 : 0) + (s.bounced ? 1 : 0)] as Uint8Array);
    this.string(s.firstEventName, QUOTE);
    this.bytes(J_LAST_NAME);
    this.string(s.lastEventName, QUOTE);
    this.bytes(J_CLOSE_REASON[s.closeReason]);
  }

  private csv(s: ClosedSession, definition: string | null): void {
    this.id(s, definition);
    this.byte(COMMA);
    if (definition !== null) {
      this.ascii(definition);
      this.byte(COMMA);
    }
    this.cell(s.userId);
    this.bytes(C_STATUS);
    this.date(s.startedAt);
    this.byte(COMMA);
    this.date(s.endedAt);
    this.byte(COMMA);
    this.number(s.durationMs / 1000);
    this.byte(COMMA);
    this.number(s.eventCount);
    this.byte(COMMA);
    this.countsCell(s.names, NAME_STRIDE);
    this.byte(COMMA);
    if (s.topChannel !== null) this.cell(s.topChannel);
    this.byte(COMMA);
    if (s.topChannelCount !== null) this.number(s.topChannelCount);
    this.byte(COMMA);
    this.countsCell(s.channels, CHANNEL_STRIDE);
    this.byte(COMMA);
    this.number(s.totalValue);
    this.bytes(s.converted ? C_TRUE : C_FALSE);
    this.bytes(s.engaged ? C_TRUE : C_FALSE);
    this.bytes(s.bounced ? C_TRUE_COMMA : C_FALSE_COMMA);
    this.cell(s.firstEventName);
    this.byte(COMMA);
    this.cell(s.lastEventName);
    this.byte(COMMA);
    this.ascii(s.closeReason);
  }

  /**
   * The session's id: derived from its user and start (session-id.ts), and
   * from its definition unless that is `default`, so that sessions of two
   * definitions never share an id and untagged output keeps its ids.
   */
  private id(s: ClosedSession, definition: string | null): void {
    const user = definition === null || definition === 'default' ? s.userId : `${definition}\u0000${s.userId}`;
    this.room(36);
    this.pos = writeSessionId(this.buf, this.pos, user, s.startedAt);
  }

  /** {key: count, ...} from an interleaved list (`stride` entries per key, the count second); quote: `"`, or `""` inside a CSV cell. */
  private counts(list: ReadonlyArray<string | number>, stride: number, quote: number): void {
    this.byte(0x7b);
    for (let i = 0; i < list.length; i += stride) {
      if (i > 0) this.byte(COMMA);
      this.string(list[i] as string, quote);
      this.byte(COLON);
      this.number(list[i + 1] as number);
    }
    this.byte(0x7d);
  }

  /** The counts as a CSV cell: JSON text, quoted (with its quotes doubled) unless it is `{}`. */
  private countsCell(list: ReadonlyArray<string | number>, stride: number): void {
    if (list.length === 0) return this.ascii('{}');
    this.byte(QUOTE);
    this.counts(list, stride, 0);
    this.byte(QUOTE);
  }

  /** A CSV cell: the text, quoted with its quotes doubled when it holds a quote, comma or line break. */
  private cell(text: string): void {
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c === QUOTE || c === COMMA || c === 0x0d || c === NEWLINE) {
        this.byte(QUOTE);
        this.utf8(text, 1);
        this.byte(QUOTE);
        return;
      }
    }
    this.utf8(text, 2);
  }

  /**
   * A JSON string. quote QUOTE: between quotes, escaped as JSON.stringify
   * does; quote 0: the same inside a quoted CSV cell (every quote doubled).
   */
  private string(text: string, quote: number): void {
    if (quote === QUOTE) this.byte(QUOTE);
    else this.ascii('""');
    this.utf8(text, quote === QUOTE ? 0 : 3);
    if (quote === QUOTE) this.byte(QUOTE);
    else this.ascii('""');
  }

  /**
   * Text as UTF-8. mode 0: JSON-escaped; 1: CSV-quoted (quotes doubled);
   * 2: as it is; 3: JSON-escaped inside a CSV-quoted cell.
   */
  private utf8(text: string, mode: number): void {
    this.room(text.length * 6 + 2);
    const buf = this.buf;
    let p = this.pos;
    for (let i = 0; i < text.length; i++) {
      let c = text.charCodeAt(i);
      if (c < 0x80) {
        if (mode !== 2 && (c === QUOTE || ((mode === 0 || mode === 3) && (c < 0x20 || c === BACKSLASH)))) {
          if (mode === 1) {
            buf[p++] = QUOTE;
            buf[p++] = QUOTE;
            continue;
          }
          buf[p++] = BACKSLASH;
          const short = c === QUOTE ? QUOTE : c === BACKSLASH ? BACKSLASH : SHORT_ESCAPES[c] ?? 0;
          if (short !== 0) {
            if (short === QUOTE && mode === 3) buf[p++] = QUOTE; // the escaped quote, doubled for CSV
            buf[p++] = short;
          } else {
            p = this.hexEscape(p, c);
          }
          continue;
        }
        buf[p++] = c;
      } else if (c < 0x800) {
        buf[p++] = 0xc0 | (c >> 6);
        buf[p++] = 0x80 | (c & 0x3f);
      } else if (c >= 0xd800 && c <= 0xdfff) {
        const next = text.charCodeAt(i + 1);
        if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
          c = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00);
          i++;
          buf[p++] = 0xf0 | (c >> 18);
          buf[p++] = 0x80 | ((c >> 12) & 0x3f);
          buf[p++] = 0x80 | ((c >> 6) & 0x3f);
          buf[p++] = 0x80 | (c & 0x3f);
        } else if (mode === 0 || mode === 3) {
          buf[p++] = BACKSLASH; // a lone surrogate: escaped, as JSON.stringify does
          p = this.hexEscape(p, c);
        } else {
          buf[p++] = 0xef; // U+FFFD, as Buffer.from would make it
          buf[p++] = 0xbf;
          buf[p++] = 0xbd;
        }
      } else {
        buf[p++] = 0xe0 | (c >> 12);
        buf[p++] = 0x80 | ((c >> 6) & 0x3f);
        buf[p++] = 0x80 | (c & 0x3f);
      }
    }
    this.pos = p;
  }

  /** "uXXXX" (lower-case hex, as JSON.stringify) at p, after its backslash. */
  private hexEscape(p: number, c: number): number {
    const buf = this.buf;
    buf[p++] = 0x75;
    for (let shift = 12; shift >= 0; shift -= 4) buf[p++] = HEX.charCodeAt((c >> shift) & 15);
    return p;
  }

  /** Bytes encoded beforehand (the constant parts). */
  private bytes(b: Uint8Array): void {
    this.room(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  /** ASCII text (ids, numbers as text). */
  private ascii(text: string): void {
    this.room(text.length);
    const buf = this.buf;
    let p = this.pos;
    for (let i = 0; i < text.length; i++) buf[p++] = text.charCodeAt(i);
    this.pos = p;
  }

  private byte(b: number): void {
    this.room(1);
    this.buf[this.pos++] = b;
  }

  /** A number as JSON.stringify writes it. */
  private number(n: number): void {
    if (!Number.isInteger(n) || n < 0 || n >= SMALL_INT) return this.ascii(String(n));
    this.room(10);
    const buf = this.buf;
    let digits = 1;
    for (let x = n; x >= 10; x = Math.floor(x / 10)) digits++;
    let p = this.pos + digits;
    this.pos = p;
    do {
      const q = Math.floor(n / 10);
      buf[--p] = 0x30 + n - q * 10;
      n = q;
    } while (n > 0);
  }

  /** A time as Date.toISOString() writes it (2016-11-08T14:09:57.000Z); the day's part is reused. */
  private date(ms: number): void {
    if (!(ms >= 0 && ms < LAST_4_DIGIT_YEAR_MS)) return this.ascii(new Date(ms).toISOString()); // rare
    const day = Math.floor(ms / DAY_MS);
    if (day !== this.day) {
      this.day = day;
      const text = new Date(day * DAY_MS).toISOString();
      for (let i = 0; i < 11; i++) this.dayBytes[i] = text.charCodeAt(i);
    }
    this.room(24);
    const buf = this.buf;
    const dayBytes = this.dayBytes;
    let p = this.pos;
    for (let i = 0; i < 11; i++) buf[p++] = dayBytes[i] as number;
    const inDay = ms - day * DAY_MS; // an integer below 86,400,000: int32 arithmetic from here
    const seconds = (inDay / 1000) | 0;
    const milli = inDay - seconds * 1000;
    const hours = (seconds / 3600) | 0;
    const minutes = ((seconds - hours * 3600) / 60) | 0;
    const secs = seconds - hours * 3600 - minutes * 60;
    p = twoDigits(buf, p, hours);
    buf[p++] = COLON;
    p = twoDigits(buf, p, minutes);
    buf[p++] = COLON;
    p = twoDigits(buf, p, secs);
    buf[p++] = 0x2e;
    const hundreds = (milli / 100) | 0;
    buf[p++] = 0x30 + hundreds;
    p = twoDigits(buf, p, milli - hundreds * 100);
    buf[p++] = 0x5a;
    this.pos = p;
  }

  /** Makes room for `n` more bytes: hands the full buffer over first. */
  private room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    this.hand();
    if (n > this.buf.length) this.buf = new Uint8Array(n);
  }

  /** Waits while the stream is full; writes the buffer too when `force` (the end). */
  async flush(force = false): Promise<void> {
    if (this.failure !== null) throw this.failure;
    if (force) this.hand();
    if (this.out.writableNeedDrain) await once(this.out, 'drain');
    if (this.failure !== null) throw this.failure;
  }

  /** Hands the bytes written so far to the stream, in a buffer of their own (a worker moves them to another thread). */
  private hand(): void {
    if (this.pos === 0) return;
    this.out.write(this.buf.subarray(0, this.pos));
    // The stream keeps that buffer: a new one for what comes next.
    this.buf = new Uint8Array(BUFFER_BYTES);
    this.pos = 0;
  }

  /** Closes the JSON array (json) and writes what is buffered. */
  async end(): Promise<void> {
    if (this.framed) this.ascii(outputEnd(this.format, this.count));
    await this.flush(true);
  }
}

/** n (0-99) as two digits at p; returns the position after them. */
function twoDigits(buf: Uint8Array, p: number, n: number): number {
  const tens = (n / 10) | 0;
  buf[p] = 0x30 + tens;
  buf[p + 1] = 0x30 + n - tens * 10;
  return p + 2;
}

/** JSON.stringify's two-character escapes of control characters (the rest are \u00XX). */
const SHORT_ESCAPES: Record<number, number> = { 8: 0x62, 9: 0x74, 10: 0x6e, 12: 0x66, 13: 0x72 };
