import { describe, expect, it } from 'vitest';
import { BatchReader, BatchWriter, refEventOf, type EventBatch } from '../../../src/cli/event-batch.ts';
import { emptyLineFields, type LineFields } from '../../../src/cli/event-line.ts';
import type { LineEvent } from '../../../src/cli/line-event.ts';
import { FNV_OFFSET, FNV_PRIME, StringInterner } from '../../../src/cli/string-interner.ts';

/** A batch as the receiving thread sees it: what postMessage's structured clone gives. */
function carried(batch: EventBatch): EventBatch {
  return structuredClone(batch);
}

/** Interns `text` as the byte scanner would; its id. */
function intern(strings: StringInterner, text: string): number {
  const bytes = Buffer.from(text);
  let h = FNV_OFFSET;
  for (const b of bytes) h = Math.imul(h ^ b, FNV_PRIME);
  expect(strings.get(bytes, 0, bytes.length, h)).toBe(text);
  return strings.lastId;
}

function fieldsOf(strings: StringInterner, line: number, internUsers: boolean): LineFields {
  const f = emptyLineFields();
  f.userId = `u${line % 97}`;
  f.userRef = internUsers ? intern(strings, f.userId) : -1;
  f.name = line % 3 === 0 ? 'purchase' : 'view';
  f.nameRef = intern(strings, f.name);
  f.ts = 1_478_614_197_000 + line;
  f.channelId = line % 5 === 0 ? null : `c${line % 7}`;
  f.channelRef = f.channelId === null || line % 2 === 0 ? -1 : intern(strings, f.channelId); // some not interned
  f.value = line % 3 === 0 ? line / 4 : null;
  f.eventId = line % 11 === 0 ? `own-${line}` : null;
  return f;
}

describe('BatchWriter and BatchReader', () => {
  it('carry events across, each string once, interned or not', () => {
    const strings = new StringInterner();
    const writer = new BatchWriter(strings);
    const reader = new BatchReader();
    const sent: LineEvent[] = [];
    const got: LineEvent[] = [];
    let texts = 0;
    for (let b = 0; b < 3; b++) {
      for (let i = 0; i < 5_000; i++) {
        const line = b * 5_000 + i + 1;
        const f = fieldsOf(strings, line, b !== 1);
        writer.add(refEventOf(f, line));
        sent.push({ userId: f.userId, name: f.name, ts: f.ts, channelId: f.channelId, value: f.value, line, ownId: f.eventId });
      }
      writer.setWatermark(b * 1_000);
      const { batch, transfer } = writer.take();
      expect(transfer).toHaveLength(6);
      expect(batch).toMatchObject({ count: 5_000, watermark: b * 1_000 });
      texts += batch.interned.length + batch.others.length;
      reader.read(carried(batch), (e) => got.push({ ...e })); // the reader reuses its event object
    }
    expect(got).toEqual(sent);
    // users (97, interned, then 97 more as others in batch 1), names (2), channels (7 interned, 7 others)
    expect(texts).toBe(97 + 97 + 2 + 7 + 7);
  });

  it('follow the interner when it starts over, and start the other table over once it is large', () => {
    // A small interner: it starts over after 2^10 slots.
    const strings = new StringInterner(4, 10);
    const writer = new BatchWriter(strings);
    const reader = new BatchReader();
    const got: string[] = [];
    const expected: string[] = [];
    const resets = { interned: 0, others: 0 };
    let line = 0;
    for (let b = 0; b < 6; b++) {
      for (let i = 0; i < 30_000; i++) {
        line++;
        const f = emptyLineFields();
        f.userId = `user-${line}`;
        f.userRef = line % 2 === 0 ? intern(strings, f.userId) : -1;
        f.name = 'view';
        f.ts = line;
        writer.add(refEventOf(f, line));
        expected.push(f.userId);
      }
      const { batch } = writer.take();
      if (batch.resetInterned) resets.interned++;
      if (batch.resetOthers) resets.others++;
      reader.read(carried(batch), (e) => got.push(e.userId));
    }
    expect(resets.interned).toBeGreaterThan(0);
    expect(resets.others).toBeGreaterThan(0);
    expect(got).toEqual(expected);
  });
});
