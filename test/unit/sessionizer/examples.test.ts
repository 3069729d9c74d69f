import { describe, expect, it } from 'vitest';
import { HOUR, MINUTE, ev, options, sessionize } from './helpers.ts';

const at = (h: number, m: number): number => Date.UTC(2025, 0, 1, h, m);

describe('worked examples', () => {
  it('15-minute gap: 00:01, 00:05, 00:10, 00:30, 00:35 -> 00:01-00:10 and 00:30-00:35', async () => {
    const evs = [1, 5, 10, 30, 35].map((m) => ev(at(0, m)));
    const { sessions } = await sessionize([evs], options({ gapMs: 15 * MINUTE }));
    expect(sessions.map((s) => [s.startedAt, s.endedAt, s.eventCount])).toEqual([
      [at(0, 1), at(0, 10), 3],
      [at(0, 30), at(0, 35), 2],
    ]);
  });

  it('5-minute gap: 10:00, 10:02, 10:04, 10:15, 10:17, 10:30 -> three sessions', async () => {
    const evs = [0, 2, 4, 15, 17, 30].map((m) => ev(at(10, m)));
    const { sessions } = await sessionize([evs.slice(0, 3), evs.slice(3)], options({ gapMs: 5 * MINUTE }));
    expect(sessions.map((s) => [s.startedAt, s.endedAt, s.eventCount])).toEqual([
      [at(10, 0), at(10, 4), 3],
      [at(10, 15), at(10, 17), 2],
      [at(10, 30), at(10, 30), 1],
    ]);
  });

  it('a 24h cap splits a steady stream: one event every 10 min for 3 days -> 3 sessions of 144 events', async () => {
    const evs = Array.from({ length: 3 * 24 * 6 }, (_, k) => ev(at(0, 0) + k * 10 * MINUTE));
    const batches = [];
    for (let i = 0; i < evs.length; i += 50) batches.push(evs.slice(i, i + 50));
    const { sessions } = await sessionize(batches, options({ gapMs: 30 * MINUTE, maxDurationMs: 24 * HOUR }));
    expect(sessions.map((s) => [s.startedAt - at(0, 0), s.durationMs, s.eventCount, s.startedByCut, s.closeReason])).toEqual([
      [0, 24 * HOUR - 10 * MINUTE, 144, false, 'MAX_DURATION'],
      [24 * HOUR, 24 * HOUR - 10 * MINUTE, 144, true, 'MAX_DURATION'],
      [48 * HOUR, 24 * HOUR - 10 * MINUTE, 144, true, null],
    ]);
  });
});
