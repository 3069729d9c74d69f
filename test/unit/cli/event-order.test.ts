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
  it('drops a repeated own id of the same user while the kept one is within the lateness, ids shared between users included, wherever it releases', () => {
    const random = rng(3);
    for (let round = 0; round < 50; round++) {
      const latenessMs = 1 + Math.floor(random() * 20);
      // The same events through two orders: one releasing at random points, one only at the end.
      const releasedA: FileEvent[] = [];
      const releasedB: FileEvent[] = [];
      const a = new EventOrder(latenessMs, (events) => releasedA.push(...events));
      const b = new EventOrder(latenessMs, (events) => releasedB.push(...events));
      const kept = new Map<string, number>(); // user NUL id -> timestamp of the event kept with it (the model)
      let expectedDuplicates = 0;
      let ts = 0;
      let newest = 0;
      for (let i = 0; i < 400; i++) {
        ts += Math.floor(random() * 3);
        const userId = `u${Math.floor(random() * 3)}`;
        const eventId = `e${Math.floor(random() * 4)}`;
        // Timestamps may step back, within the lateness.
        const at = Math.max(newest - latenessMs, ts - Math.floor(random() * latenessMs));
        newest = Math.max(newest, at);
        const key = `${userId}\u0000${eventId}`;
        expect(a.admit(event(userId, eventId, at), i + 1)).toBeNull();
        expect(b.admit(event(userId, eventId, at), i + 1)).toBeNull();
        const held = kept.get(key);
        if (held !== undefined && held >= newest - latenessMs) expectedDuplicates++;
        else kept.set(key, at);
        if (random() < 0.3) a.release();
        expect(a.duplicates).toBe(expectedDuplicates);
        expect(b.duplicates).toBe(expectedDuplicates);
      }
      a.end();
      b.end();
      expect(releasedA.length + a.duplicates).toBe(400);
      // Each user's events leave in the same order (users with the same timestamp may interleave otherwise).
      const perUser = (released: FileEvent[]) => ['u0', 'u1', 'u2'].map((u) => released.filter((e) => e.userId === u).map((e) => [e.eventId, e.ts]));
      expect(perUser(releasedA)).toEqual(perUser(releasedB));
    }
  });
});
