import { describe, expect, it } from 'vitest';
import { partitionOf, shareOf } from '../../../src/cluster/partition.ts';

/** FNV-1a 32-bit reference values (published test vectors of the algorithm, Landon Curt Noll). */
const FNV1A_32: ReadonlyArray<[string, number]> = [
  ['', 0x811c9dc5],
  ['a', 0xe40c292c],
  ['b', 0xe70c2de5],
  ['foobar', 0xbf9cf968],
];

describe('partitionOf', () => {
  it('is FNV-1a over the UTF-8 bytes, modulo the partition count', () => {
    for (const [text, hash] of FNV1A_32) {
      expect(partitionOf(text, 2 ** 31)).toBe(hash % 2 ** 31);
      expect(partitionOf(text, 64)).toBe(hash % 64);
      expect(partitionOf(text, 7)).toBe(hash % 7);
    }
  });

  it('hashes the UTF-8 bytes of any text (2-, 3- and 4-byte characters)', () => {
    // The same text as bytes, hashed by the plain byte loop of the algorithm's definition.
    const byBytes = (text: string, n: number): number => {
      let h = 0x811c9dc5;
      for (const byte of Buffer.from(text, 'utf8')) h = Number((BigInt(h ^ byte) * 16_777_619n) % 4_294_967_296n);
      return (h >>> 0) % n;
    };
    for (const text of ['é', 'user-ü', '東京', 'emoji 😀 x', 'ascii-only-42', '\u07ff\u0800\uffff']) {
      expect(partitionOf(text, 64)).toBe(byBytes(text, 64));
      expect(partitionOf(text, 1_000)).toBe(byBytes(text, 1_000));
    }
  });

  it('spreads user ids over the partitions', () => {
    const counts = new Array<number>(64).fill(0);
    for (let i = 0; i < 64_000; i++) counts[partitionOf(`user-${i}`, 64)]! += 1;
    expect(Math.min(...counts)).toBeGreaterThan(800);
    expect(Math.max(...counts)).toBeLessThan(1_200);
  });
});

describe('shareOf', () => {
  it('gives every instance an even share within one partition, adding up to all', () => {
    for (const partitions of [1, 7, 64, 100]) {
      for (let n = 1; n <= 9; n++) {
        const shares = Array.from({ length: n }, (_, i) => shareOf(i, n, partitions));
        expect(shares.reduce((a, b) => a + b, 0)).toBe(partitions);
        expect(Math.max(...shares) - Math.min(...shares)).toBeLessThanOrEqual(1);
      }
    }
    expect(shareOf(3, 3, 64)).toBe(0);
  });
});
