/**
 * One session as a JSON object, written straight into bytes: the hot path of
 * `sessions sessionize` output (hundreds of thousands of sessions a second).
 * Room for the worst case is reserved once, then every piece is written at a
 * local position, without a call or a bounds check per piece.
 */
import type { SessionRules } from '../sessionizer/types.ts';
import type { ByteWriter } from './byte-writer.ts';
import type { Counts, SessionTally } from './session-tally.ts';
import { UUID_LENGTH, writeRandomUuid } from './uuid.ts';

const DAY_MS = 86_400_000;
const QUOTE = 34;
const BACKSLASH = 92;
const FIRST_PRINTABLE = 0x20;
const ASCII_END = 0x80;
const DIGIT_0 = 48;
/** Most bytes a character takes in a JSON string (a control character escaped as \u00XX). */
const MAX_BYTES_PER_CHAR = 6;
/** Bytes of everything but the strings and counts, with room to spare. */
const FIXED_BYTES = 512;
/** Room per entry of eventCounts or channels besides its key: quotes, colon, comma, a count. */
const ENTRY_BYTES = 24;

function putAscii(buf: Buffer, at: number, s: string): number {
  for (let i = 0; i < s.length; i++) buf[at++] = s.charCodeAt(i);
  return at;
}

/** Fixed ASCII text, as 32-bit words: copied four bytes per store (three times faster than byte by byte). */
interface Literal {
  readonly words: Uint32Array;
  readonly tail: Uint8Array;
}

function literal(text: string): Literal {
  const bytes = Buffer.from(text, 'latin1');
  const n = bytes.length >> 2;
  const words = new Uint32Array(n);
  for (let i = 0; i < n; i++) words[i] = bytes.readUInt32LE(i * 4);
  return { words, tail: bytes.subarray(n * 4) };
}

function putLiteral(view: DataView, buf: Buffer, at: number, lit: Literal): number {
  const words = lit.words;
  for (let i = 0; i < words.length; i++, at += 4) view.setUint32(at, words[i] as number, true);
  const tail = lit.tail;
  for (let i = 0; i < tail.length; i++) buf[at++] = tail[i] as number;
  return at;
}

const ID = literal('{"id":');
const USER_ID = literal(',"userId":');
const STATUS_STARTED_AT = literal(',"status":"CLOSED","startedAt":');
const ENDED_AT = literal(',"endedAt":');
const DURATION = literal(',"durationSeconds":');
const EVENT_COUNT = literal(',"eventCount":');
const EVENT_COUNTS = literal(',"eventCounts":{');
const NO_CHANNEL = literal('},"topChannel":null,"topChannelCount":null,"channels":{}');
const TOP_CHANNEL = literal('},"topChannel":');
const TOP_CHANNEL_COUNT = literal(',"topChannelCount":');
const CHANNELS = literal(',"channels":{');
const TOTAL_VALUE = literal(',"totalValue":');
const FLAGS = [0, 1, 2, 3, 4, 5, 6, 7].map((bits) =>
  literal(`,"converted":${(bits & 4) !== 0},"engaged":${(bits & 2) !== 0},"bounced":${(bits & 1) !== 0}`),
);
const FIRST_EVENT_NAME = literal(',"firstEventName":');
const LAST_EVENT_NAME = literal(',"lastEventName":');
const CLOSE_REASON = literal(',"closeReason":');

/** s as a JSON string literal (JSON.stringify(s)), quotes included. */
function putString(buf: Buffer, at: number, s: string): number {
  const start = at;
  buf[at++] = QUOTE;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= ASCII_END || c === QUOTE || c === BACKSLASH || c < FIRST_PRINTABLE) {
      // Escapes or non-ASCII: rare in ids and names; JSON.stringify has the exact rules.
      return start + buf.write(JSON.stringify(s), start, 'utf8');
    }
    buf[at++] = c;
  }
  buf[at++] = QUOTE;
  return at;
}

/** A count or a duration: integers digit by digit, anything else as JSON writes it. */
function putNumber(buf: Buffer, at: number, n: number): number {
  if (!Number.isSafeInteger(n) || n < 0) return putAscii(buf, at, Number.isFinite(n) ? String(n) : 'null');
  let digits = 1;
  for (let x = n; x >= 10; x = Math.floor(x / 10)) digits++;
  let i = at + digits;
  do {
    buf[--i] = DIGIT_0 + (n % 10);
    n = Math.floor(n / 10);
  } while (n > 0);
  return at + digits;
}

let isoDay = Number.NaN;
let isoDayPrefix = '';

/** ms as RFC 3339 UTC with milliseconds, in quotes, as Date.toISOString() writes it; the date part is cached. */
function putIso(buf: Buffer, at: number, ms: number): number {
  const day = Math.floor(ms / DAY_MS);
  if (day !== isoDay) {
    const text = new Date(day * DAY_MS).toISOString();
    isoDay = day;
    isoDayPrefix = text.slice(0, text.indexOf('T') + 1);
  }
  buf[at++] = QUOTE;
  at = putAscii(buf, at, isoDayPrefix);
  let rest = ms - day * DAY_MS;
  const h = Math.floor(rest / 3_600_000);
  rest -= h * 3_600_000;
  const m = Math.floor(rest / 60_000);
  rest -= m * 60_000;
  const sec = Math.floor(rest / 1000);
  const milli = rest - sec * 1000;
  buf[at++] = DIGIT_0 + Math.floor(h / 10);
  buf[at++] = DIGIT_0 + (h % 10);
  buf[at++] = 58; // :
  buf[at++] = DIGIT_0 + Math.floor(m / 10);
  buf[at++] = DIGIT_0 + (m % 10);
  buf[at++] = 58;
  buf[at++] = DIGIT_0 + Math.floor(sec / 10);
  buf[at++] = DIGIT_0 + (sec % 10);
  buf[at++] = 46; // .
  buf[at++] = DIGIT_0 + Math.floor(milli / 100);
  buf[at++] = DIGIT_0 + (Math.floor(milli / 10) % 10);
  buf[at++] = DIGIT_0 + (milli % 10);
  buf[at++] = 90; // Z
  buf[at++] = QUOTE;
  return at;
}

function countsRoom(c: Counts | null): number {
  return c === null ? 2 : 2 + MAX_BYTES_PER_CHAR * c.keyChars + ENTRY_BYTES * c.size;
}

/** a's entry comes before b's in eventCounts: more frequent, then smaller name (the API's order). */
function before(c: Counts, a: number, b: number): boolean {
  const ca = c.countAt(a);
  const cb = c.countAt(b);
  return ca > cb || (ca === cb && c.keyAt(a) < c.keyAt(b));
}

/**
 * Writes eventCounts' entries in the API's order. Sessions have a few names:
 * each entry is picked as the best of those left (no array, no sort).
 */
function putEventCounts(buf: Buffer, at: number, c: Counts): number {
  const n = c.size;
  if (n > 30) {
    const order = byCountThenName(c);
    for (let i = 0; i < n; i++) at = putEntry(buf, at, i === 0, c.keyAt(order[i] as number), c.countAt(order[i] as number));
    return at;
  }
  let left = n === 30 ? 0x3fffffff : (1 << n) - 1;
  for (let i = 0; left !== 0; i++) {
    let best = -1;
    for (let bits = left; bits !== 0; bits &= bits - 1) {
      const k = 31 - Math.clz32(bits & -bits);
      if (best < 0 || before(c, k, best)) best = k;
    }
    left &= ~(1 << best);
    at = putEntry(buf, at, i === 0, c.keyAt(best), c.countAt(best));
  }
  return at;
}

/** Entry order of eventCounts: most frequent first, then by name (the API's order). */
export function byCountThenName(c: Counts): number[] {
  const order: number[] = [];
  for (let i = 0; i < c.size; i++) order.push(i);
  return order.sort((a, b) => c.countAt(b) - c.countAt(a) || (c.keyAt(a) < c.keyAt(b) ? -1 : 1));
}

function putEntry(buf: Buffer, at: number, first: boolean, key: string, count: number): number {
  if (!first) buf[at++] = 44; // ,
  at = putString(buf, at, key);
  buf[at++] = 58;
  return putNumber(buf, at, count);
}

/** Upper bound of the bytes writeSessionJson() takes for `s`. */
function roomFor(s: SessionTally, id: string | null): number {
  const strings = s.userId.length + s.firstEventName.length + s.lastEventName.length + (s.topChannel?.length ?? 0);
  return FIXED_BYTES + (id?.length ?? UUID_LENGTH) * MAX_BYTES_PER_CHAR + MAX_BYTES_PER_CHAR * strings + countsRoom(s.names) + countsRoom(s.channels);
}

/**
 * Writes one session as a JSON object (no line break), fields in
 * SESSION_COLUMNS order; `id` null: a fresh random UUID.
 */
export function writeSessionJson(w: ByteWriter, s: SessionTally, id: string | null, rules: SessionRules): void {
  const buf = w.room(roomFor(s, id));
  const view = w.view();
  let at = putLiteral(view, buf, w.length, ID);
  if (id === null) {
    buf[at++] = QUOTE;
    at = writeRandomUuid(buf, at);
    buf[at++] = QUOTE;
  } else {
    at = putString(buf, at, id);
  }
  at = putLiteral(view, buf, at, USER_ID);
  at = putString(buf, at, s.userId);
  at = putLiteral(view, buf, at, STATUS_STARTED_AT);
  at = putIso(buf, at, s.startedAt);
  at = putLiteral(view, buf, at, ENDED_AT);
  at = putIso(buf, at, s.endedAt);
  at = putLiteral(view, buf, at, DURATION);
  at = putNumber(buf, at, s.durationMs / 1000);
  at = putLiteral(view, buf, at, EVENT_COUNT);
  at = putNumber(buf, at, s.eventCount);
  at = putLiteral(view, buf, at, EVENT_COUNTS);
  at = putEventCounts(buf, at, s.names);
  const channels = s.channels;
  if (channels === null) {
    at = putLiteral(view, buf, at, NO_CHANNEL);
  } else {
    const top = channels.top();
    at = putLiteral(view, buf, at, TOP_CHANNEL);
    at = putString(buf, at, channels.keyAt(top));
    at = putLiteral(view, buf, at, TOP_CHANNEL_COUNT);
    at = putNumber(buf, at, channels.countAt(top));
    at = putLiteral(view, buf, at, CHANNELS);
    for (let i = 0; i < channels.size; i++) at = putEntry(buf, at, i === 0, channels.keyAt(i), channels.countAt(i));
    buf[at++] = 125; // }
  }
  at = putLiteral(view, buf, at, TOTAL_VALUE);
  at = putNumber(buf, at, s.totalValue);
  at = putLiteral(view, buf, at, FLAGS[(s.converted ? 4 : 0) | (s.engaged(rules) ? 2 : 0) | (s.bounced ? 1 : 0)] as Literal);
  at = putLiteral(view, buf, at, FIRST_EVENT_NAME);
  at = putString(buf, at, s.firstEventName);
  at = putLiteral(view, buf, at, LAST_EVENT_NAME);
  at = putString(buf, at, s.lastEventName);
  at = putLiteral(view, buf, at, CLOSE_REASON);
  at = s.closeReason === null ? putAscii(buf, at, 'null') : putString(buf, at, s.closeReason);
  buf[at++] = 125;
  w.advance(at);
}
