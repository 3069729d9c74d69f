import { describe, expect, it } from 'vitest';
import { planBalance } from '../../../src/cluster/balance.ts';

/** A pure model of the partitions table: owner per partition (null: free). */
function simulate(owners: Array<string | null>, live: string[], rounds: number): void {
  for (let r = 0; r < rounds; r++) {
    for (const self of live) {
      const held = owners.flatMap((o, p) => (o === self ? [p] : []));
      const step = planBalance(self, live.map((id) => ({ id })), held, owners.length);
      switch (step.kind) {
        case 'claim': {
          let left = step.count;
          for (let p = 0; p < owners.length && left > 0; p++) {
            const owner = owners[p];
            if (owner === null || owner === undefined || !live.includes(owner)) {
              owners[p] = self;
              left--;
            }
          }
          break;
        }
        case 'release':
          for (const p of step.partitions) owners[p] = null;
          break;
        case 'rejoin':
        case 'steady':
          break;
        default:
          throw new Error(`unknown step ${(step satisfies never) as string}`);
      }
    }
  }
}

function shares(owners: Array<string | null>, live: string[]): number[] {
  return live.map((id) => owners.filter((o) => o === id).length);
}

describe('planBalance', () => {
  it('claims up to the even share, releases the excess highest first, and is steady at the share', () => {
    const live = [{ id: 'a' }, { id: 'b' }, { id: 'c' }];
    expect(planBalance('a', live, [], 64)).toEqual({ kind: 'claim', count: 22 });
    expect(planBalance('c', live, [1, 2], 64)).toEqual({ kind: 'claim', count: 19 });
    expect(planBalance('b', live, Array.from({ length: 24 }, (_, i) => i), 64)).toEqual({ kind: 'release', partitions: [21, 22, 23] });
    expect(planBalance('b', live, Array.from({ length: 21 }, (_, i) => i), 64)).toEqual({ kind: 'steady' });
    expect(planBalance('z', live, [5], 64)).toEqual({ kind: 'rejoin' });
  });

  it('converges to shares within one partition as instances join and leave, every partition owned by a live instance', () => {
    const owners: Array<string | null> = new Array(64).fill(null);
    const sequence = [['a'], ['a', 'b'], ['a', 'b', 'c'], ['a', 'c'], ['a', 'c', 'd', 'e', 'f'], ['f']];
    for (const live of sequence) {
      simulate(owners, live, 3);
      const s = shares(owners, live);
      expect(s.reduce((x, y) => x + y, 0)).toBe(64);
      expect(Math.max(...s) - Math.min(...s)).toBeLessThanOrEqual(1);
      expect(owners.every((o) => o !== null && live.includes(o))).toBe(true);
    }
  });
});
