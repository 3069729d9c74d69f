/**
 * EventOrder's duplicates: a line repeating the own eventId of an event of
 * the same user still held is dropped; the same id of another user is not a
 * repeat. Checked against a plain model (a set of user and id pairs held)
 * on ids shared between users, released at random points.
 */
import { describe, expect, it } from 'vitest';
import { EventOrder, type FileEvent } from '../../../src/cli/event-order.ts';
import { rng } from '../../helpers/random.ts';

function event(userId: string, eventId: string, ts: number): FileEvent {
  return { eventId, userId, name: 'view', ts, channelId: null, value: null, own: true, properties: null, at: -1 };
}

describe('EventOrder', () => {
  it('drops a repeated own id of a held event of the same user only, ids shared between users included', () => {
    const random = rng(3);
    for (let round = 0; round < 50; round++) {
      const latenessMs = 1 + Math.floor(random() * 20);
      const released: FileEvent[] = [];
      const order = new EventOrder(latenessMs, (events) => released.push(...events));
      const held = new Map<string, number>(); // user NUL id -> count held (the model)
      let expectedDuplicates = 0;
      let ts = 0;
      for (let i = 0; i < 400; i++) {
        ts += Math.floor(random() * 3);
        const e = event(`u${Math.floor(random() * 3)}`, `e${Math.floor(random() * 4)}`, ts);
        const key = `${e.userId}\u0000${e.eventId}`;
        expect(order.admit(e, i + 1)).toBeNull();
        if (held.has(key)) expectedDuplicates++;
        else held.set(key, 1);
        if (random() < 0.3) {
          const before = released.length;
          order.release();
          for (const r of released.slice(before)) held.delete(`${r.userId}\u0000${r.eventId}`);
        }
        expect(order.duplicates).toBe(expectedDuplicates);
      }
      order.end();
      expect(released.length + order.duplicates).toBe(400);
    }
  });
});
