import { describe, expect, it } from 'vitest';
import { MemorySessionStore, persistChanges, runBatch } from '../../helpers/memory-store.ts';
import { Sessionizer } from '../../../src/sessionizer/sessionizer.ts';
import { MINUTE, ev, options } from './helpers.ts';

const T0 = Date.UTC(2025, 0, 1);
const GAP = 30 * MINUTE;
const LATE = 30_000;

describe('closing by watermark', () => {
  it('closes once closesAt < watermark, not at equality', () => {
    const sz = new Sessionizer(options());
    sz.apply([ev(T0, { userId: 'a' })], 100);
    sz.apply([ev(T0 + GAP + LATE, { userId: 'b' })], 200);
    expect(sz.watermark()).toBe(T0 + GAP);
    expect(sz.openCount()).toBe(2);
    sz.drainChanges();
    sz.apply([ev(T0 + GAP + LATE + 1, { userId: 'b' })], 300);
    expect(sz.openCount()).toBe(1);
    const closed = sz.drainChanges().filter((c) => c.kind === 'closed');
    expect(closed.map((c) => [c.session.userId, c.session.closeReason, c.session.closedAt, c.session.version])).toEqual([
      ['a', 'INACTIVITY', 300, 2],
    ]);
  });

  it('watermark is -Infinity before any event and follows the largest ts', () => {
    const sz = new Sessionizer(options());
    expect(sz.watermark()).toBe(Number.NEGATIVE_INFINITY);
    sz.apply([ev(T0 + 10), ev(T0)], 1);
    expect(sz.watermark()).toBe(T0 + 10 - LATE);
    sz.setMaxEventTs(T0 + 5);
    expect(sz.watermark()).toBe(T0 + 10 - LATE);
  });

  it('defers an event behind the watermark to a correction', () => {
    const sz = new Sessionizer(options());
    sz.apply([ev(T0 + 10 * MINUTE, { userId: 'a' })], 1);
    const requests = sz.apply(
      [ev(T0, { userId: 'b' }), ev(T0 + 11 * MINUTE, { userId: 'b' }), ev(T0 + 11 * MINUTE - LATE, { userId: 'c' })],
      2,
    );
    // b's later event is deferred too; c sits exactly at the watermark and is placed.
    expect(requests).toEqual([{ userId: 'b', fromTs: T0, toTs: T0 + 11 * MINUTE }]);
  });
});

describe('closing quiet users', () => {
  it('closes at lastReceived + gap + lateness, via one deadline', () => {
    const sz = new Sessionizer(options());
    sz.apply([ev(T0, { userId: 'a' })], 1_000);
    sz.apply([ev(T0 + 1, { userId: 'b' })], 5_000);
    expect(sz.nextDeadline()).toBe(1_000 + GAP + LATE);
    sz.drainChanges();
    sz.advanceTime(1_000 + GAP + LATE - 1);
    expect(sz.drainChanges()).toEqual([]);
    sz.advanceTime(1_000 + GAP + LATE);
    const changes = sz.drainChanges();
    expect(changes.map((c) => [c.kind, c.session.userId, c.session.closeReason])).toEqual([['closed', 'a', 'INACTIVITY']]);
    expect(sz.nextDeadline()).toBe(5_000 + GAP + LATE);
  });

  it('a new event pushes the deadline back', () => {
    const sz = new Sessionizer(options());
    sz.apply([ev(T0)], 1_000);
    sz.apply([ev(T0 + MINUTE)], 2_000);
    sz.advanceTime(1_000 + GAP + LATE);
    expect(sz.openCount()).toBe(1);
    expect(sz.nextDeadline()).toBe(2_000 + GAP + LATE);
    sz.advanceTime(2_000 + GAP + LATE);
    expect(sz.openCount()).toBe(0);
    expect(sz.nextDeadline()).toBeNull();
  });

  it('an event close after a quiet closure is corrected into the closed session', async () => {
    const sz = new Sessionizer(options());
    const store = new MemorySessionStore({ checkVersions: true });
    await runBatch(sz, [ev(T0)], store, 1_000);
    sz.advanceTime(1_000 + GAP + LATE);
    await persistChanges(sz, store);
    const out = await runBatch(sz, [ev(T0 + 5 * MINUTE)], store, 10_000_000);
    expect(out.corrections).toBe(1);
    expect(out.changes.map((c) => [c.kind, c.session.id, c.session.status, c.session.eventCount, c.session.version])).toEqual([
      ['updated', 's1', 'CLOSED', 2, 3],
    ]);
  });
});

describe('flush', () => {
  it('closes sessions that ended before `before` with FLUSH and keeps the others', () => {
    const sz = new Sessionizer(options());
    sz.apply([ev(T0, { userId: 'a' }), ev(T0 + 10 * MINUTE, { userId: 'b' })], 1);
    sz.drainChanges();
    sz.flush(T0 + 10 * MINUTE, 50);
    expect(sz.drainChanges().map((c) => [c.kind, c.session.userId, c.session.closeReason, c.session.closedAt])).toEqual([
      ['closed', 'a', 'FLUSH', 50],
    ]);
    expect(sz.openSessions().map((s) => s.userId)).toEqual(['b']);
    sz.flush(undefined, 60);
    expect(sz.openCount()).toBe(0);
  });

  it('a late event after flush is corrected: updated, version + 1, still FLUSH-closed', async () => {
    const sz = new Sessionizer(options());
    const store = new MemorySessionStore({ checkVersions: true });
    await runBatch(sz, [ev(T0), ev(T0 + MINUTE)], store, 1_000);
    sz.flush(undefined, 2_000);
    await persistChanges(sz, store);
    expect(store.list()[0]).toMatchObject({ version: 2, status: 'CLOSED', closeReason: 'FLUSH' });
    const out = await runBatch(sz, [ev(T0 + 2 * MINUTE, { name: 'purchase' })], store, 3_000);
    expect(out.changes).toHaveLength(1);
    expect(out.changes[0]).toMatchObject({
      kind: 'updated',
      session: { id: 's1', version: 3, status: 'CLOSED', closeReason: 'FLUSH', closedAt: 2_000, eventCount: 3, converted: true },
    });
    expect(sz.openCount()).toBe(0);
  });
});

describe('changes and versions', () => {
  it('a session appears once per batch; its version moves once per batch', () => {
    const sz = new Sessionizer(options());
    sz.beginBatch();
    sz.apply([ev(T0), ev(T0 + 1), ev(T0 + 2)], 1);
    expect(sz.drainChanges().map((c) => [c.kind, c.session.version, c.session.eventCount])).toEqual([['started', 1, 3]]);
    sz.beginBatch();
    sz.apply([ev(T0 + 3)], 2);
    sz.apply([ev(T0 + 4)], 2);
    expect(sz.drainChanges().map((c) => [c.kind, c.session.version, c.session.eventCount])).toEqual([['updated', 2, 5]]);
    expect(sz.drainChanges()).toEqual([]);
  });

  it('started, updated and closed in order, each with the latest state', () => {
    const sz = new Sessionizer(options({ maxDurationMs: 10 }));
    sz.apply([ev(T0, { userId: 'a' }), ev(T0 + 1, { userId: 'b' }), ev(T0 + 5, { userId: 'a' }), ev(T0 + 10, { userId: 'a' })], 1);
    const changes = sz.drainChanges();
    expect(changes.map((c) => [c.kind, c.session.id, c.session.userId])).toEqual([
      ['started', 's1', 'a'],
      ['started', 's2', 'b'],
      ['closed', 's1', 'a'],
      ['started', 's3', 'a'],
    ]);
    expect(changes[0]?.session).toEqual(changes[2]?.session);
    expect(changes[2]?.session).toMatchObject({ status: 'CLOSED', closeReason: 'MAX_DURATION', version: 1, eventCount: 2 });
  });

  it('an event bridging two open sessions merges them into the earlier id', () => {
    const sz = new Sessionizer(options({ allowedLatenessMs: 2 * GAP }));
    sz.apply([ev(T0, { channelId: 'x' }), ev(T0 + 50 * MINUTE, { channelId: 'y' })], 1);
    expect(sz.openCount()).toBe(2);
    sz.drainChanges();
    expect(sz.apply([ev(T0 + 25 * MINUTE, { channelId: 'y' })], 2)).toEqual([]);
    const changes = sz.drainChanges();
    expect(changes.map((c) => [c.kind, c.session.id, c.mergedInto])).toEqual([
      ['updated', 's1', undefined],
      ['removed', 's2', 's1'],
    ]);
    expect(changes[0]?.session).toMatchObject({ startedAt: T0, endedAt: T0 + 50 * MINUTE, eventCount: 3, topChannel: 'y', version: 2 });
    expect(sz.openCount()).toBe(1);
  });
});

describe('restore', () => {
  it('continues restored open sessions and honours closed frontiers', async () => {
    const store = new MemorySessionStore({ checkVersions: true });
    const first = new Sessionizer(options());
    await runBatch(first, [ev(T0, { userId: 'a', channelId: 'x' }), ev(T0 + MINUTE, { userId: 'a', name: 'purchase' })], store, 1);
    await runBatch(first, [ev(T0 + 2 * MINUTE, { userId: 'b' })], store, 2);
    first.flush(T0 + 2 * MINUTE, 3);
    await persistChanges(first, store);

    const second = new Sessionizer(options({ newId: () => 'fresh' }));
    const open = store.list().filter((s) => s.status === 'OPEN');
    second.restore(open, T0 + 2 * MINUTE, new Map([['a', T0 + MINUTE]]), 10);
    expect(second.openSessions()).toEqual(open);
    const out = await runBatch(second, [ev(T0 + 3 * MINUTE, { userId: 'b', channelId: 'x' }), ev(T0 + 4 * MINUTE, { userId: 'a' })], store, 11);
    expect(out.corrections).toBe(1); // a's event is within gap of its flushed session
    expect(store.list().map((s) => [s.userId, s.id, s.eventCount, s.status])).toEqual([
      ['a', 's1', 3, 'CLOSED'],
      ['b', 's2', 2, 'OPEN'],
    ]);
  });
});

describe('for callers without a wall clock (the CLI)', () => {
  it('keeps no quiet deadline with quietTimers false, and closes only by event time', () => {
    const sz = new Sessionizer(options({ quietTimers: false, allowedLatenessMs: 0 }));
    sz.apply([ev(T0, { userId: 'a' })], 0);
    expect(sz.nextDeadline()).toBeNull();
    sz.advanceTime(10 * GAP);
    expect(sz.openCount()).toBe(1);
    sz.advanceEventTime(T0 + GAP, 0); // closesAt is not behind the watermark yet
    expect(sz.drainClosed()).toEqual([]);
    sz.advanceEventTime(T0 + GAP + 1, 0);
    expect(sz.drainClosed().map((s) => [s.userId, s.closeReason, s.startedAt])).toEqual([['a', 'INACTIVITY', T0]]);
    expect(sz.openCount()).toBe(0);
  });

  it('drainClosed gives the closed sessions only, in closing order', () => {
    const sz = new Sessionizer(options({ quietTimers: false, allowedLatenessMs: 0 }));
    sz.apply([ev(T0, { userId: 'a' }), ev(T0 + 1, { userId: 'b' }), ev(T0 + 2, { userId: 'a' })], 0);
    expect(sz.drainClosed()).toEqual([]);
    sz.apply([ev(T0 + GAP + 5, { userId: 'c' })], 0);
    sz.flush(undefined, 0);
    expect(sz.drainClosed().map((s) => [s.userId, s.eventCount, s.closeReason])).toEqual([
      ['a', 2, 'INACTIVITY'], // both behind the watermark: closed in the order the timer heap holds them
      ['b', 1, 'INACTIVITY'],
      ['c', 1, 'FLUSH'],
    ]);
  });
});
