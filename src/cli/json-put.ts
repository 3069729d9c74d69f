/**
 * JSON text written into bytes, for session-json.ts: fixed text, strings,
 * numbers and times at a given position of a buffer (with a DataView of the
 * same memory), each returning the position after it. The caller reserves
 * the room first, padding included.
 *
 * Byte-by-byte stores cost about as much per byte as eight-byte ones do per
 * word, so fixed text goes in eight bytes per store (see Literal), padded to
 * whole words that the next piece overwrites, a text already written is
 * copied the same way (putCopy), and digits go in pairs.
 */
const DAY_MS = 86_400_000;
const QUOTE = 34;
const BACKSLASH = 92;
const FIRST_PRINTABLE = 0x20;
const ASCII_END = 0x80;
const DIGIT_0 = 48;
const COLON = 58;
const WORD = 8;
/** Most bytes a character takes in a JSON string (a control character escaped as \u00XX). */
export const MAX_BYTES_PER_CHAR = 6;
/** Days from 0000-01-01 to 9999-12-31 relative to the epoch: where an ISO date has the plain `YYYY-MM-DD` form. */
const FIRST_PLAIN_DAY = -719_528;
const LAST_PLAIN_DAY = 2_932_896;
/** Bytes of a time in the plain form, quotes included: "2016-11-08T14:09:57.000Z". */
const ISO_LENGTH = 26;

/** "00".."99" as little-endian 16-bit words: two digits in one store. */
const DIGIT_PAIRS = ((): Uint16Array => {
  const out = new Uint16Array(100);
  for (let n = 0; n < 100; n++) out[n] = (DIGIT_0 + Math.floor(n / 10)) | ((DIGIT_0 + (n % 10)) << 8);
  return out;
})();

/** Text known to be ASCII, byte by byte. */
export function putAscii(buf: Buffer, at: number, s: string): number {
  for (let i = 0; i < s.length; i++) buf[at++] = s.charCodeAt(i);
  return at;
}

/**
 * Fixed ASCII text as 64-bit words, padded with spaces to a whole word (the
 * next piece overwrites the padding). Words go through doubles, which keep
 * their bits: ASCII never makes the bit pattern of a NaN (that takes a byte
 * 0x7f at the top), the one value a double store may change.
 */
export interface Literal {
  readonly words: Float64Array;
  readonly length: number;
}

/** `text` (ASCII, not DEL) as a Literal. */
export function literal(text: string): Literal {
  const bytes = Buffer.alloc(Math.ceil(text.length / WORD) * WORD, ' ');
  bytes.write(text, 'latin1');
  for (const b of bytes) if (b >= ASCII_END - 1) throw new Error(`literal ${JSON.stringify(text)} is not plain ASCII`);
  const words = new Float64Array(bytes.length / WORD);
  for (let i = 0; i < words.length; i++) words[i] = bytes.readDoubleLE(i * WORD);
  return { words, length: text.length };
}

/** Writes `lit`; up to 7 bytes of padding follow its end. */
export function putLiteral(view: DataView, at: number, lit: Literal): number {
  const words = lit.words;
  for (let i = 0; i < words.length; i++) view.setFloat64(at + WORD * i, words[i] as number, true);
  return at + lit.length;
}

/**
 * Copies the `length` bytes written at `from` to `at` (at least `length`
 * past `from`), in whole words: up to 7 bytes of padding follow.
 */
export function putCopy(view: DataView, at: number, from: number, length: number): number {
  for (let i = 0; i < length; i += WORD) view.setFloat64(at + i, view.getFloat64(from + i, true), true);
  return at + length;
}

/** s as a JSON string literal (JSON.stringify(s)), quotes included. */
export function putString(buf: Buffer, at: number, s: string): number {
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

/** A count or a duration: integers by digit pairs, anything else as JSON writes it. */
export function putNumber(view: DataView, buf: Buffer, at: number, n: number): number {
  if (n < 10 && n >= 0 && Number.isInteger(n)) {
    buf[at] = DIGIT_0 + n; // most counts
    return at + 1;
  }
  if (!Number.isSafeInteger(n) || n < 0) return putAscii(buf, at, Number.isFinite(n) ? String(n) : 'null');
  let digits = 1;
  for (let x = n; x >= 10; x = Math.floor(x / 10)) digits++;
  let i = at + digits;
  while (n >= 100) {
    const q = Math.floor(n / 100);
    i -= 2;
    view.setUint16(i, DIGIT_PAIRS[n - q * 100] as number, true);
    n = q;
  }
  if (n >= 10) view.setUint16(i - 2, DIGIT_PAIRS[n] as number, true);
  else buf[i - 1] = DIGIT_0 + n;
  return at + digits;
}

/** The day putIso() wrote last: its first ms, and `"YYYY-MM-DDT` as a double (8 bytes) and an integer (4). */
let isoDayStart = Number.NaN;
let isoDayHead = 0;
let isoDayTail = 0;
/** The second of the day putIso() wrote last, and `HH:MM:SS` as a double. */
let isoSecond = -1;
let isoSecondWord = 0;
/** `.000Z"` and padding, as a double: times to the second. */
const WHOLE_SECOND = literal('.000Z"').words[0] as number;
const scratch = new DataView(new ArrayBuffer(WORD));

/** Caches the day of `ms`; false when its date is not the plain YYYY-MM-DD (putIso then writes what Date does). */
function isoDayOf(ms: number): boolean {
  const day = Math.floor(ms / DAY_MS);
  if (!(day >= FIRST_PLAIN_DAY && day <= LAST_PLAIN_DAY)) return false;
  const prefix = Buffer.from(`"${new Date(day * DAY_MS).toISOString().slice(0, 11)}`, 'latin1');
  isoDayStart = day * DAY_MS;
  isoDayHead = prefix.readDoubleLE(0);
  isoDayTail = prefix.readInt32LE(8);
  return true;
}

/**
 * ms as RFC 3339 UTC with milliseconds, in quotes, as Date.toISOString()
 * writes it. Sessions close in time order: the day and the second are
 * cached, and most times are then three eight-byte stores and a four-byte one.
 */
export function putIso(view: DataView, buf: Buffer, at: number, ms: number): number {
  let rest = ms - isoDayStart;
  if (!(rest >= 0 && rest < DAY_MS)) {
    if (!isoDayOf(ms)) return putString(buf, at, new Date(ms).toISOString());
    rest = ms - isoDayStart;
  }
  view.setFloat64(at, isoDayHead, true);
  view.setInt32(at + 8, isoDayTail, true);
  rest |= 0; // below a day: 32-bit arithmetic from here on
  const sec = (rest / 1000) | 0;
  if (sec !== isoSecond) {
    const h = (sec / 3600) | 0;
    const m = ((sec - h * 3600) / 60) | 0;
    scratch.setUint16(0, DIGIT_PAIRS[h] as number, true);
    scratch.setUint8(2, COLON);
    scratch.setUint16(3, DIGIT_PAIRS[m] as number, true);
    scratch.setUint8(5, COLON);
    scratch.setUint16(6, DIGIT_PAIRS[sec - h * 3600 - m * 60] as number, true);
    isoSecond = sec;
    isoSecondWord = scratch.getFloat64(0, true);
  }
  view.setFloat64(at + 12, isoSecondWord, true);
  const milli = rest - sec * 1000;
  if (milli === 0) {
    view.setFloat64(at + 20, WHOLE_SECOND, true);
  } else {
    const hundreds = (milli / 100) | 0;
    buf[at + 20] = 46; // .
    buf[at + 21] = DIGIT_0 + hundreds;
    view.setUint16(at + 22, DIGIT_PAIRS[milli - hundreds * 100] as number, true);
    view.setUint16(at + 24, 0x225a, true); // Z"
  }
  return at + ISO_LENGTH;
}
