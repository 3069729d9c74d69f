/**
 * RFC 3339 date-times, shared by the GraphQL DateTime scalar, event
 * validation and the command line (no GraphQL here).
 */

const DAY_MS = 86_400_000;
const ZERO = 48;

/** Two ASCII digits at i as a number, or -1. */
function twoDigits(text: string, i: number): number {
  const a = text.charCodeAt(i) - ZERO;
  const b = text.charCodeAt(i + 1) - ZERO;
  return a >= 0 && a <= 9 && b >= 0 && b <= 9 ? a * 10 + b : -1;
}

/** Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's days_from_civil). */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146_097 + doe - 719_468;
}

function daysInMonth(year: number, month: number): number {
  if (month !== 2) return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
  return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
}

/**
 * Parses an RFC 3339 timestamp into ms since the epoch, or null when the
 * text is not one: `YYYY-MM-DD`, `T`, `t` or a space, `hh:mm:ss`, an
 * optional fraction (digits beyond milliseconds are truncated), and a
 * required offset `Z`, `z` or `±hh:mm` (hours up to 23). Impossible dates
 * (February 30, hour 24, second 60) are refused. Read character by
 * character: it runs for every event of a file on the command line.
 */
export function parseRfc3339(text: string): number | null {
  const n = text.length;
  if (n < 20 || text.charCodeAt(4) !== 45 || text.charCodeAt(7) !== 45) return null;
  const sep = text.charCodeAt(10);
  if (sep !== 84 && sep !== 116 && sep !== 32) return null; // T, t, space
  if (text.charCodeAt(13) !== 58 || text.charCodeAt(16) !== 58) return null;
  const century = twoDigits(text, 0);
  const yy = twoDigits(text, 2);
  const month = twoDigits(text, 5);
  const day = twoDigits(text, 8);
  const hour = twoDigits(text, 11);
  const minute = twoDigits(text, 14);
  const second = twoDigits(text, 17);
  if (century < 0 || yy < 0 || month < 1 || month > 12 || day < 1 || hour < 0 || hour > 23) return null;
  if (minute < 0 || minute > 59 || second < 0 || second > 59) return null;
  const year = century * 100 + yy;
  if (day > daysInMonth(year, month)) return null;
  let i = 19;
  let ms = 0;
  if (text.charCodeAt(i) === 46) {
    i++;
    const digitsFrom = i;
    for (; i < n; i++) {
      const d = text.charCodeAt(i) - ZERO;
      if (d < 0 || d > 9) break;
      if (i - digitsFrom < 3) ms = ms * 10 + d;
    }
    const digits = i - digitsFrom;
    if (digits === 0) return null;
    if (digits < 3) ms *= digits === 1 ? 100 : 10;
  }
  let offsetMin: number;
  const z = text.charCodeAt(i);
  if ((z === 90 || z === 122) && i + 1 === n) {
    offsetMin = 0;
  } else if ((z === 43 || z === 45) && i + 6 === n && text.charCodeAt(i + 3) === 58) {
    const oh = twoDigits(text, i + 1);
    const om = twoDigits(text, i + 4);
    if (oh < 0 || oh > 23 || om < 0 || om > 59) return null;
    offsetMin = (z === 45 ? -1 : 1) * (oh * 60 + om);
  } else {
    return null;
  }
  return daysFromCivil(year, month, day) * DAY_MS + ((hour * 60 + minute) * 60 + second) * 1000 + ms - offsetMin * 60_000;
}

/** Formats ms since the epoch as UTC RFC 3339 with milliseconds. */
export function formatDateTime(ms: number): string {
  return new Date(ms).toISOString();
}

/**
 * A DateTime input that did not parse. The scalar does not throw, so that a
 * bad timestamp inside one event of a batch rejects only that event
 * (INVALID_TIMESTAMP); arguments go through {@link dateTimeArg}, which throws.
 */
export class InvalidDateTime {
  constructor(
    readonly input: string,
    /** What was expected instead, for the message (the command line also reads other forms). */
    readonly expected = 'an RFC 3339 date-time with an offset (e.g. 2026-01-31T12:00:00Z)',
  ) {}
  get message(): string {
    return `"${this.input.slice(0, 64)}" is not ${this.expected}`;
  }
}

/** What the DateTime scalar gives resolvers: ms since the epoch, or the bad input. */
export type DateTimeInput = number | InvalidDateTime;
