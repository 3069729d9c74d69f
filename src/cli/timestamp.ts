/**
 * Event times of JSON lines -> ms since the epoch (docs/cli.md, "Time").
 *
 * - RFC 3339 text, `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` (`t`, `z` and a
 *   space separator accepted as by the service). Without an offset the time is
 *   taken as UTC. Fractions beyond milliseconds are truncated, like
 *   Date.parse in the service. Impossible dates (Feb 30, 24:00, :60) are refused.
 * - Numbers, or text made only of digits: epoch seconds when below 1e11
 *   (before year 5138), else epoch milliseconds.
 *
 * Parsed by hand from char codes: Date.parse costs more than the rest of a
 * line's parsing. Files repeat the same text for many lines (and the line
 * scanner hands out one string object per text), so results are cached too.
 */

/** Epoch numbers below this are seconds, at or above it milliseconds. */
export const EPOCH_SECONDS_LIMIT = 1e11;
/** Largest |ms| a JavaScript Date can hold. */
export const MAX_DATE_MS = 8.64e15;
export const DAY_MS = 86_400_000;

const DIGIT_0 = 48;

/** Cached texts before the cache starts over: a bound on its memory. */
const CACHE_LIMIT = 65_536;
const cache = new Map<string, number>();

/** ms since the epoch, or null when `v` is not a time this tool accepts. */
export function parseTimestamp(v: unknown): number | null {
  if (typeof v === 'string') {
    const hit = cache.get(v);
    if (hit !== undefined) return hit;
    const ms = parseTimestampText(v);
    if (ms !== null) {
      if (cache.size >= CACHE_LIMIT) cache.clear();
      cache.set(v, ms);
    }
    return ms;
  }
  if (typeof v === 'number') return epochMs(v);
  return null;
}

function epochMs(n: number): number | null {
  if (!Number.isFinite(n)) return null;
  const ms = Math.abs(n) < EPOCH_SECONDS_LIMIT ? Math.round(n * 1000) : Math.round(n);
  return Math.abs(ms) <= MAX_DATE_MS ? ms : null;
}

function digits(s: string, at: number, count: number): number {
  let n = 0;
  for (let i = at; i < at + count; i++) {
    const d = s.charCodeAt(i) - DIGIT_0;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}

/** Days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's days_from_civil). */
export function daysFromCivil(y: number, m: number, d: number): number {
  const yy = m <= 2 ? y - 1 : y;
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146_097 + doe - 719_468;
}

/** Days in month m (1-12) of year y. */
export function daysInMonth(y: number, m: number): number {
  if (m === 2) return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0 ? 29 : 28;
  return m === 4 || m === 6 || m === 9 || m === 11 ? 30 : 31;
}

/** Parses the text forms (see the module comment); null when invalid. */
export function parseTimestampText(s: string): number | null {
  const n = s.length;
  if (n > 0 && n <= 20 && isEpochText(s)) return epochMs(Number(s));
  if (n < 19) return null;
  const y = digits(s, 0, 4);
  const mo = digits(s, 5, 2);
  const d = digits(s, 8, 2);
  const h = digits(s, 11, 2);
  const mi = digits(s, 14, 2);
  const sec = digits(s, 17, 2);
  const sep = s.charCodeAt(10);
  if (
    y < 0 || mo < 1 || mo > 12 || d < 1 || h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 59 ||
    s.charCodeAt(4) !== 45 || s.charCodeAt(7) !== 45 || s.charCodeAt(13) !== 58 || s.charCodeAt(16) !== 58 ||
    (sep !== 84 && sep !== 116 && sep !== 32) // T, t, space
  ) {
    return null;
  }
  if (d > daysInMonth(y, mo)) return null;
  let i = 19;
  let ms = 0;
  if (i < n && s.charCodeAt(i) === 46) {
    // fraction: keep milliseconds, truncate the rest
    i++;
    const start = i;
    while (i < n) {
      const c = s.charCodeAt(i) - DIGIT_0;
      if (c < 0 || c > 9) break;
      if (i - start < 3) ms += c * (i - start === 0 ? 100 : i - start === 1 ? 10 : 1);
      i++;
    }
    if (i === start) return null;
  }
  let offsetMin = 0;
  if (i < n) {
    const c = s.charCodeAt(i);
    if (c === 90 || c === 122) {
      i++; // Z, z
    } else if ((c === 43 || c === 45) && i + 6 === n && s.charCodeAt(i + 3) === 58) {
      const oh = digits(s, i + 1, 2);
      const om = digits(s, i + 4, 2);
      if (oh < 0 || oh > 23 || om < 0 || om > 59) return null;
      offsetMin = (c === 43 ? 1 : -1) * (oh * 60 + om);
      i += 6;
    } else {
      return null;
    }
  }
  if (i !== n) return null;
  const t = daysFromCivil(y, mo, d) * DAY_MS + ((h * 60 + mi) * 60 + sec) * 1000 + ms - offsetMin * 60_000;
  return Math.abs(t) <= MAX_DATE_MS ? t : null;
}

/** Digits with an optional leading minus and fraction: "1478614197", "1478614197123", "1478614197.5". */
function isEpochText(s: string): boolean {
  let i = s.charCodeAt(0) === 45 ? 1 : 0;
  let seenDigit = false;
  let seenDot = false;
  for (; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 48 && c <= 57) seenDigit = true;
    else if (c === 46 && !seenDot && seenDigit) seenDot = true;
    else return false;
  }
  return seenDigit && s.charCodeAt(s.length - 1) !== 46;
}
