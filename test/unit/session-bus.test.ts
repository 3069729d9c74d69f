import { describe, expect, it } from 'vitest';
import { Feed } from '../../src/realtime/feed.ts';
import { SessionBus, type Overflow } from '../../src/realtime/session-bus.ts';
import type { SessionView } from '../../src/store/session-view.ts';

const session = (id: string, userId = 'u'): SessionView => ({ id, userId, definition: 'default' }) as SessionView;

/** Reads `count` messages (each next() as graphql-ws calls it: one at a time). */
async function read(iterator: AsyncIterator<SessionView>, count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const result = await iterator.next();
    if (result.done === true) break;
    ids.push(result.value.id);
  }
  return ids;
}

describe('SessionBus', () => {
  it('delivers a commit far larger than 1,000 messages to a subscriber that reads after it', async () => {
    const bus = new SessionBus();
    const sub = bus.subscribe({ definition: 'default', topic: 'closed', userId: null });
    const ids = Array.from({ length: 5_000 }, (_, i) => `s${i}`);
    for (const id of ids) bus.publish('closed', session(id, `u${id}`));
    expect(await read(sub, 5_000)).toEqual(ids);
    expect(bus.size()).toBe(1);
  });

  it('hands messages to waiting readers, and each reader reads every message once, in order', async () => {
    const bus = new SessionBus();
    const waiting = bus.subscribe({ definition: 'default', topic: 'started', userId: null });
    const busy = bus.subscribe({ definition: 'default', topic: 'started', userId: 'u' });
    const pending = waiting.next();
    for (const id of ['a', 'b', 'c']) bus.publish('started', session(id));
    expect((await pending).value?.id).toBe('a');
    expect(await read(waiting, 2)).toEqual(['b', 'c']);
    expect(await read(busy, 3)).toEqual(['a', 'b', 'c']);
    bus.publish('started', session('d'));
    expect(await read(waiting, 1)).toEqual(['d']);
    expect(await read(busy, 1)).toEqual(['d']);
  });

  it('filters by user before any per-subscriber work, and forgets topics nobody follows', async () => {
    const bus = new SessionBus();
    const alice = bus.subscribe({ definition: 'default', topic: 'updated', userId: 'alice' });
    expect(bus.wants('updated', 'default', 'alice')).toBe(true);
    expect(bus.wants('updated', 'default', 'bob')).toBe(false);
    bus.publish('updated', session('b1', 'bob'));
    bus.publish('updated', session('a1', 'alice'));
    expect(await read(alice, 1)).toEqual(['a1']);
    await alice.return?.();
    expect(bus.wants('updated', 'default', 'alice')).toBe(false);
    expect(bus.size()).toBe(0);
  });

  it('cuts off a subscriber more than maxQueue messages behind, once, saying how many it lost', async () => {
    const bus = new SessionBus();
    const overflows: Overflow[] = [];
    const slow = bus.subscribe({ definition: 'default', topic: 'started', userId: null, maxQueue: 3, onOverflow: (o) => overflows.push(o) });
    const fast = bus.subscribe({ definition: 'default', topic: 'started', userId: null, maxQueue: 3 });
    for (const id of ['a', 'b', 'c']) {
      bus.publish('started', session(id));
      await read(fast, 1);
    }
    expect(overflows).toEqual([]);
    bus.publish('started', session('d'));
    expect(overflows).toEqual([{ reason: 'queue-full', limit: 3, dropped: 4 }]);
    expect(await slow.next()).toEqual({ value: undefined, done: true });
    expect(await read(fast, 1)).toEqual(['d']);
    bus.publish('started', session('e'));
    expect(overflows).toHaveLength(1);
    expect(bus.size()).toBe(1);
  });

  it('cuts all the subscriptions of an owner together and counts what they leave undelivered', async () => {
    const bus = new SessionBus();
    const connection = {};
    let cutFromOverflow = 0;
    const overflowing = bus.subscribe({
      definition: 'default',
      topic: 'started',
      userId: null,
      maxQueue: 5,
      owner: connection,
      onOverflow: () => (cutFromOverflow = bus.cut(connection)),
    });
    const sibling = bus.subscribe({ definition: 'default', topic: 'closed', userId: 'u', owner: connection });
    const stranger = bus.subscribe({ definition: 'default', topic: 'closed', userId: 'u' });
    bus.publish('closed', session('c1'));
    bus.publish('closed', session('c2'));
    expect(await read(sibling, 1)).toEqual(['c1']);
    for (let i = 0; i < 6; i++) bus.publish('started', session(`s${i}`));
    // 6 started the overflowing one lost, and the one closure its sibling had not read.
    expect(cutFromOverflow).toBe(7);
    expect(await overflowing.next()).toEqual({ value: undefined, done: true });
    expect(await sibling.next()).toEqual({ value: undefined, done: true });
    expect(await read(stranger, 2)).toEqual(['c1', 'c2']);
    expect(bus.cut(connection)).toBe(0);
    expect(bus.size()).toBe(1);
  });

  it('keeps stored messages for the slowest reader only, across many segments', async () => {
    const bus = new SessionBus();
    const slow = bus.subscribe({ definition: 'default', topic: 'closed', userId: null });
    const fast = bus.subscribe({ definition: 'default', topic: 'closed', userId: null });
    const expected: string[] = [];
    for (let i = 0; i < 10_000; i++) {
      bus.publish('closed', session(`s${i}`));
      expected.push(`s${i}`);
      if (i % 3 === 0) await read(fast, 1);
    }
    expect(await read(slow, 4_000)).toEqual(expected.slice(0, 4_000));
    expect(await read(fast, 10_000 - 3_334)).toEqual(expected.slice(3_334));
    expect(await read(slow, 6_000)).toEqual(expected.slice(4_000));
    bus.publish('closed', session('last'));
    expect(await read(slow, 1)).toEqual(['last']);
    expect(await read(fast, 1)).toEqual(['last']);
  });

  it('ends every subscription on close, waking waiting readers', async () => {
    const bus = new SessionBus();
    const sub = bus.subscribe({ definition: 'default', topic: 'merged', userId: null });
    const pending = sub.next();
    bus.close();
    expect(await pending).toEqual({ value: undefined, done: true });
    expect(bus.size()).toBe(0);
  });
});

describe('Feed', () => {
  const hooks = { overflowed: () => undefined, left: () => undefined };

  it('stores nothing while every reader waits, and only what the slowest reader has yet to read', async () => {
    const feed = new Feed<number>();
    const a = feed.join(100_000, hooks);
    const b = feed.join(100_000, hooks);
    for (let i = 0; i < 10; i++) {
      const next = [a.next(), b.next()];
      feed.publish(i);
      expect((await Promise.all(next)).map((r) => r.value)).toEqual([i, i]);
    }
    expect(feed.retained).toBe(0);

    for (let i = 0; i < 50_000; i++) feed.publish(i);
    expect(feed.retained).toBe(50_000);
    for (let i = 0; i < 50_000; i++) await a.next();
    for (let i = 0; i < 40_000; i++) await b.next();
    feed.publish(-1); // trimming runs as messages arrive
    for (let i = 0; i < 2_000; i++) feed.publish(-1);
    expect(feed.retained).toBeLessThanOrEqual(10_000 + 2_001 + 1_024);
    for (let i = 0; i < 12_001; i++) await b.next();
    for (let i = 0; i < 2_001; i++) await a.next();
    expect(feed.retained).toBe(0);
  });
});
