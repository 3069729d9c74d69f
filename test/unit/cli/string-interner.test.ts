import { describe, expect, it } from 'vitest';
import { FNV_OFFSET, FNV_PRIME, StringInterner } from '../../../src/cli/string-interner.ts';

function hash(buf: Buffer): number {
  let h = FNV_OFFSET;
  for (const b of buf) h = Math.imul(h ^ b, FNV_PRIME);
  return h;
}

describe('StringInterner', () => {
  it('gives each byte string its text, while growing and after starting over', () => {
    // Small bounds: it doubles from 16 slots to 1024, then starts over.
    const interner = new StringInterner(4, 10);
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 2_000; i++) {
        const text = i % 7 === 0 ? `user-é-${i}` : `u${i}`;
        const bytes = Buffer.from(`"${text}"`);
        const s = interner.get(bytes, 1, bytes.length - 1, hash(bytes.subarray(1, bytes.length - 1)));
        expect(s).toBe(text);
      }
    }
  });

  it('finds a text again wherever its bytes are', () => {
    const interner = new StringInterner();
    const a = Buffer.from('send_message');
    const b = Buffer.from('xx send_message');
    const first = interner.get(a, 0, a.length, hash(a));
    expect(interner.get(b, 3, b.length, hash(b.subarray(3)))).toBe(first);
  });
});
