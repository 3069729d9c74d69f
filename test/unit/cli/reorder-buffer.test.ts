import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { eventBefore, type LineEvent } from '../../../src/cli/line-event.ts';
import { ReorderBuffer } from '../../../src/cli/reorder-buffer.ts';

const RUNS = Number(process.env['PROP_RUNS'] ?? 500);

const event = (ts: number, line: number, ownId: string | null): LineEvent => ({
  userId: 'u',
  name: 'n',
  ts,
  channelId: null,
  value: null,
  line,
  ownId,
});

describe('ReorderBuffer', () => {
  it('gives events out in key order, whatever the order in and however pushes and pops interleave', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            ts: fc.integer({ min: 0, max: 40 }),
            ownId: fc.option(fc.constantFrom('a', 'line:000000000003', 'z'), { freq: 4 }),
            popsAfter: fc.integer({ min: 0, max: 2 }),
          }),
          { minLength: 1, maxLength: 200, size: 'max' },
        ),
        (steps) => {
          const buffer = new ReorderBuffer();
          const out: LineEvent[] = [];
          // Pops only below every event still to come, as sessionize does (the watermark).
          const rest = steps.map((s) => s.ts);
          steps.forEach((s, i) => {
            buffer.push(event(s.ts, i + 1, s.ownId === null ? null : `${s.ownId}${i}`));
            const floor = Math.min(...rest.slice(i + 1));
            for (let k = 0; k < s.popsAfter && buffer.peekTs() < floor; k++) out.push(buffer.pop() as LineEvent);
          });
          for (let e = buffer.pop(); e !== undefined; e = buffer.pop()) out.push(e);
          expect(out).toHaveLength(steps.length);
          expect(buffer.size).toBe(0);
          for (let i = 1; i < out.length; i++) expect(eventBefore(out[i] as LineEvent, out[i - 1] as LineEvent)).toBe(false);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('orders equal timestamps by eventId, a line without one by its line number', () => {
    const buffer = new ReorderBuffer();
    for (const e of [event(5, 1, null), event(5, 2, 'zz'), event(5, 3, 'aa'), event(4, 4, null), event(5, 5, null)]) buffer.push(e);
    const out: Array<string | number> = [];
    for (let e = buffer.pop(); e !== undefined; e = buffer.pop()) out.push(e.ownId ?? e.line);
    expect(out).toEqual([4, 'aa', 1, 5, 'zz']);
  });
});
