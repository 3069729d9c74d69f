import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MinHeap } from '../../../src/sessionizer/heap.ts';

describe('MinHeap', () => {
  it('pops keys in ascending order under any mix of pushes and pops', () => {
    fc.assert(
      fc.property(fc.array(fc.option(fc.integer({ min: -50, max: 50 }), { nil: null }), { maxLength: 200 }), (ops) => {
        const heap = new MinHeap<number>();
        const model: number[] = [];
        for (const op of ops) {
          if (op === null) {
            model.sort((a, b) => a - b);
            expect(heap.peekKey()).toBe(model.length > 0 ? model[0] : Number.POSITIVE_INFINITY);
            const item = heap.pop();
            expect(item).toBe(model.shift());
          } else {
            heap.push(op, op);
            model.push(op);
          }
          expect(heap.size).toBe(model.length);
        }
      }),
    );
  });
});
