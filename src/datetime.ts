/**
 * RFC 3339 date-times, shared by the GraphQL DateTime scalar, event
 * validation and the command line (no GraphQL here).
 */

/** RFC 3339 date-time with a required offset (Z or ±hh:mm), optional fraction. */
const RFC3339 =
  /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-](\d{2}):(\d{2}))$/;

/**
 * Parses an RFC 3339 timestamp into ms since the epoch, or null when the
 * text is not one (missing offset, impossible date such as Feb 30, ...).
 */
export function parseRfc3339(text: string): number | null {
  const m = RFC3339.exec(text);
  if (!m) return null;
  const [year, month, day, hour, minute, second] = [m[1], m[2], m[3], m[4], m[5], m[6]].map(Number) as [
    number, number, number, number, number, number,
  ];
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 60) return null;
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (day > daysInMonth) return null;
  const ms = Date.parse(text.replace(' ', 'T'));
  // Leap seconds (:60) are folded into the next second by Date.parse or rejected; both are fine.
  return Number.isFinite(ms) ? ms : null;
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
  constructor(readonly input: string) {}
  get message(): string {
    return `"${this.input.slice(0, 64)}" is not an RFC 3339 date-time with an offset (e.g. 2026-01-31T12:00:00Z)`;
  }
}

/** What the DateTime scalar gives resolvers: ms since the epoch, or the bad input. */
export type DateTimeInput = number | InvalidDateTime;
