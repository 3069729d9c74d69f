import { describe, expect, it } from 'vitest';
import { correctSessions, expandRegion } from '../../../src/sessionizer/correction.ts';
import { MemorySessionStore, persistChanges, runBatch } from '../../helpers/memory-store.ts';
import { Sessionizer } from '../../../src/sessionizer/sessionizer.ts';
import type { SessionEvent, SessionSnapshot } from '../../../src/sessionizer/types.ts';
import { ev, idSource, options } from './helpers.ts';

// Small numbers: gap 10, maxDuration 35.
const opts = options({ gapMs: 10, maxDurationMs: 35, allowedLatenessMs: 5, newId: idSource('n') });

/** Stored sessions as the sessionizer would have saved them for these batches. */
async function stored(batches: SessionEvent[][], flushAt?: number): Promise<{ store: MemorySessionStore; sz: Sessionizer }> {
  const sz = new Sessionizer({ ...opts, allowedLatenessMs: 100, newId: idSource('s') });
  const store = new MemorySessionStore({ checkVersions: true });
  for (const b of batches) await runBatch(sz, b, store, 100);
  if (flushAt !== undefined) {
    sz.flush(undefined, flushAt);
    await persistChanges(sz, store);
  }
  return { store, sz };
}

function summary(s: SessionSnapshot): [string, number, number, string, string | null, number] {
  return [s.id, s.startedAt, s.endedAt, s.status, s.closeReason, s.version];
}

describe('correctSessions', () => {
  it('a bridging event merges into the earliest stored id and removes the other', async () => {
    const a = [ev(0), ev(5)];
    const b = [ev(20), ev(25)];
    const { store } = await stored([a, b], 200);
    const late = ev(14);
    const result = correctSessions(
      { userId: 'u1', events: [...a, ...b, late], stored: store.list(), watermark: 30, nowMs: 300 },
      opts,
    );
    expect(result.sessions.map(summary)).toEqual([['s1', 0, 25, 'CLOSED', 'FLUSH', 3]]);
    expect(result.changes.map((c) => [c.kind, c.session.id, c.mergedInto])).toEqual([
      ['updated', 's1', undefined],
      ['removed', 's2', 's1'],
    ]);
  });

  it('leaves unchanged sessions without a change', async () => {
    const a = [ev(0), ev(5)];
    const b = [ev(20), ev(25)];
    const { store } = await stored([a, b], 200);
    const late = ev(27);
    const result = correctSessions({ userId: 'u1', events: [...a, ...b, late], stored: store.list(), watermark: 30, nowMs: 300 }, opts);
    expect(result.sessions.map(summary)).toEqual([
      ['s1', 0, 5, 'CLOSED', 'FLUSH', 2],
      ['s2', 20, 27, 'CLOSED', 'FLUSH', 3],
    ]);
    expect(result.changes.map((c) => [c.kind, c.session.id])).toEqual([['updated', 's2']]);
    expect(result.sessions[0]).toBe(store.list()[0]);
  });

  it('an early event shifts a MAX_DURATION cut: ids stay with their earliest stored part, a new id when none is left', async () => {
    // 0..30 | cut 35..40 (open).  A late event at -5 moves the cut to 30.
    const evs = [0, 5, 10, 15, 20, 25, 30, 35, 40].map((t) => ev(t));
    const { store } = await stored([evs]);
    expect(store.list().map(summary)).toEqual([
      ['s1', 0, 30, 'CLOSED', 'MAX_DURATION', 1],
      ['s2', 35, 40, 'OPEN', null, 1],
    ]);
    const result = correctSessions({ userId: 'u1', events: [ev(-5), ...evs], stored: store.list(), watermark: 35, nowMs: 300 }, opts);
    expect(result.sessions.map((s) => [...summary(s), s.startedByCut, s.eventCount])).toEqual([
      ['s1', -5, 25, 'CLOSED', 'MAX_DURATION', 2, false, 7],
      ['s2', 30, 40, 'OPEN', null, 2, true, 3],
    ]);
  });

  it('a session no longer cut leaves MAX_DURATION for INACTIVITY and keeps closedAt', async () => {
    const s: SessionSnapshot[] = [];
    const evs = [0, 5, 10, 15, 20, 25, 30, 35, 40].map((t) => ev(t));
    const { store } = await stored([evs]);
    s.push(...store.list());
    // Only the events up to 30 remain in the region as if 35 and 40 had been a different user.
    const result = correctSessions(
      { userId: 'u1', events: evs.slice(0, 7), stored: s.slice(0, 1), watermark: 100, nowMs: 300 },
      opts,
    );
    expect(result.sessions.map(summary)).toEqual([['s1', 0, 30, 'CLOSED', 'INACTIVITY', 2]]);
    expect(result.sessions[0]?.closedAt).toBe(100);
  });

  it('closes by watermark, or leaves open, sessions that had no closed part', () => {
    const evs = [ev(0), ev(30)];
    const result = correctSessions({ userId: 'u1', events: evs, stored: [], watermark: 15, nowMs: 7 }, opts);
    expect(result.sessions.map(summary)).toEqual([
      ['n1', 0, 0, 'CLOSED', 'INACTIVITY', 1],
      ['n2', 30, 30, 'OPEN', null, 1],
    ]);
    expect(result.changes.map((c) => [c.kind, c.session.id])).toEqual([
      ['started', 'n1'],
      ['closed', 'n1'],
      ['started', 'n2'],
    ]);
  });
});

describe('expandRegion', () => {
  const snap = (id: string, startedAt: number, endedAt: number): SessionSnapshot =>
    ({ id, startedAt, endedAt }) as SessionSnapshot;
  const sessions = [snap('a', 0, 5), snap('b', 20, 30), snap('c', 35, 50), snap('d', 55, 60), snap('e', 100, 110)];

  it('takes sessions whose window overlaps the events, then neighbours within gap', () => {
    const r = expandRegion(12, 12, sessions, 10);
    expect(r.sessions.map((s) => s.id)).toEqual(['a', 'b', 'c', 'd']);
    expect([r.fromTs, r.toTs]).toEqual([0, 60]);
  });

  it('keeps the request bounds when they reach further', () => {
    const r = expandRegion(80, 95, sessions, 10);
    expect(r.sessions.map((s) => s.id)).toEqual(['e']);
    expect([r.fromTs, r.toTs]).toEqual([80, 110]);
    expect(expandRegion(75, 85, sessions, 10)).toEqual({ fromTs: 75, toTs: 85, sessions: [] });
  });
});
