/**
 * The usual timestamp text, `YYYY-MM-DDTHH:MM:SS[.fraction][Z|±HH:MM]`, read
 * straight from a line's bytes: no string to decode, intern or look up, and
 * the day part is cached (consecutive lines mostly share it). Gives exactly
 * what parseTimestampText gives for that text; for anything else (epoch
 * digits, odd forms, invalid dates) it declines with NaN and the caller
 * decodes the text for parseTimestamp.
 */
import { DAY_MS, daysFromCivil, daysInMonth, MAX_DATE_MS } from './timestamp.ts';

const DIGIT_0 = 48;
const DASH = 45;
const COLON = 58;
const PLUS = 43;
const DOT = 46;

let lastDate = -1;
let lastDayMs = 0;

/** A two-digit number at i, or -1. */
function two(buf: Buffer, i: number): number {
  const a = (buf[i] as number) - DIGIT_0;
  const b = (buf[i + 1] as number) - DIGIT_0;
  return a >= 0 && a <= 9 && b >= 0 && b <= 9 ? a * 10 + b : -1;
}

/** ms since the epoch of the text in buf[start, end), or NaN when it is not the usual form (or invalid). */
export function parseTimestampBytes(buf: Buffer, start: number, end: number): number {
  if (end - start < 19) return Number.NaN;
  const century = two(buf, start);
  const yy = two(buf, start + 2);
  const y = century * 100 + yy;
  const mo = two(buf, start + 5);
  const d = two(buf, start + 8);
  const h = two(buf, start + 11);
  const mi = two(buf, start + 14);
  const sec = two(buf, start + 17);
  const sep = buf[start + 10];
  if (
    century < 0 || yy < 0 || mo < 1 || mo > 12 || d < 1 || h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 59 ||
    buf[start + 4] !== DASH || buf[start + 7] !== DASH || buf[start + 13] !== COLON || buf[start + 16] !== COLON ||
    (sep !== 84 && sep !== 116 && sep !== 32) // T, t, space
  ) {
    return Number.NaN;
  }
  const date = (y * 100 + mo) * 100 + d;
  if (date !== lastDate) {
    if (d > daysInMonth(y, mo)) return Number.NaN;
    lastDate = date;
    lastDayMs = daysFromCivil(y, mo, d) * DAY_MS;
  }
  let i = start + 19;
  let ms = 0;
  if (i < end && buf[i] === DOT) {
    // fraction: keep milliseconds, truncate the rest
    const from = ++i;
    for (; i < end; i++) {
      const c = (buf[i] as number) - DIGIT_0;
      if (c < 0 || c > 9) break;
      if (i - from < 3) ms += c * (i - from === 0 ? 100 : i - from === 1 ? 10 : 1);
    }
    if (i === from) return Number.NaN;
  }
  let offsetMin = 0;
  if (i < end) {
    const c = buf[i];
    if (c === 90 || c === 122) {
      i++; // Z, z
    } else if ((c === PLUS || c === DASH) && i + 6 === end && buf[i + 3] === COLON) {
      const oh = two(buf, i + 1);
      const om = two(buf, i + 4);
      if (oh < 0 || oh > 23 || om < 0 || om > 59) return Number.NaN;
      offsetMin = (c === PLUS ? 1 : -1) * (oh * 60 + om);
      i += 6;
    } else {
      return Number.NaN;
    }
  }
  if (i !== end) return Number.NaN;
  const t = lastDayMs + ((h * 60 + mi) * 60 + sec) * 1000 + ms - offsetMin * 60_000;
  return Math.abs(t) <= MAX_DATE_MS ? t : Number.NaN;
}
