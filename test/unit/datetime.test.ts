/**
 * parseRfc3339 reads timestamps by hand (it runs for every line on the
 * command line); it must agree with the definition it replaced: the RFC 3339
 * pattern, impossible dates refused, then Date.parse.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseRfc3339 } from '../../src/datetime.ts';

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-](\d{2}):(\d{2}))$/;

/** The former implementation, as the reference. */
function byPattern(text: string): number | null {
  const m = RFC3339.exec(text);
  if (!m) return null;
  const [year, month, day, hour, minute, second] = [m[1], m[2], m[3], m[4], m[5], m[6]].map(Number) as number[];
  if ((month as number) < 1 || (month as number) > 12 || (day as number) < 1 || (hour as number) > 23) return null;
  if ((minute as number) > 59 || (second as number) > 60) return null;
  if ((day as number) > new Date(Date.UTC(year as number, month as number, 0)).getUTCDate()) return null;
  const ms = Date.parse(text.replace(' ', 'T'));
  return Number.isFinite(ms) ? ms : null;
}

const two = (max: number): fc.Arbitrary<string> => fc.integer({ min: 0, max }).map((n) => String(n).padStart(2, '0'));
const nearTimestamp = fc
  .tuple(
    fc.integer({ min: 1000, max: 9999 }),
    two(13),
    two(32),
    fc.constantFrom('T', 't', ' ', 'x'),
    two(25),
    two(61),
    two(61),
    fc.constantFrom('', '.', '.5', '.12', '.123', '.1234567', '.999999999'),
    fc.constantFrom('Z', 'z', '+01:30', '-23:59', '+24:00', '+23:60', '-00:00', '', ' Z', '+0130', '+1:30'),
  )
  .map(([y, mo, d, sep, h, mi, s, frac, off]) => `${y}-${mo}-${d}${sep}${h}:${mi}:${s}${frac}${off}`);

describe('parseRfc3339', () => {
  it('agrees with the pattern and Date.parse on text near the format', () => {
    fc.assert(
      fc.property(nearTimestamp, (text) => {
        expect(parseRfc3339(text)).toBe(byPattern(text));
      }),
      { numRuns: 5_000 },
    );
  });

  it('agrees on any text', () => {
    fc.assert(
      fc.property(fc.string(), (text) => {
        expect(parseRfc3339(text)).toBe(byPattern(text));
      }),
      { numRuns: 2_000 },
    );
  });

  it('reads the usual forms', () => {
    expect(parseRfc3339('2016-11-08T14:09:57Z')).toBe(Date.UTC(2016, 10, 8, 14, 9, 57));
    expect(parseRfc3339('2016-11-08T16:09:57.250+02:00')).toBe(Date.UTC(2016, 10, 8, 14, 9, 57, 250));
    expect(parseRfc3339('2016-02-29T00:00:00Z')).toBe(Date.UTC(2016, 1, 29));
    expect(parseRfc3339('2015-02-29T00:00:00Z')).toBeNull();
    expect(parseRfc3339('2016-12-31T23:59:60Z')).toBeNull();
  });
});
