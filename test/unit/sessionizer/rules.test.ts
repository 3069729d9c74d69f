import { describe, expect, it } from 'vitest';
import { HOUR, MINUTE, ev, options, sessionize } from './helpers.ts';

const T0 = Date.UTC(2025, 0, 1);
const GAP = 30 * MINUTE;

describe('session rules at their boundaries', () => {
  it('an event exactly GAP after the previous one joins the session', async () => {
    const { sessions } = await sessionize([[ev(T0), ev(T0 + GAP)]], options());
    expect(sessions).toHaveLength(1);
    expect(sessions[0]).toMatchObject({ startedAt: T0, endedAt: T0 + GAP, eventCount: 2, status: 'OPEN' });
  });

  it('an event GAP + 1 ms after the previous one opens a new session', async () => {
    const { sessions } = await sessionize([[ev(T0), ev(T0 + GAP + 1)]], options());
    expect(sessions.map((s) => [s.startedAt, s.eventCount])).toEqual([
      [T0, 1],
      [T0 + GAP + 1, 1],
    ]);
    expect(sessions[1]?.startedByCut).toBe(false);
  });

  it('an event exactly maxDuration after the start opens a new session and closes the old with MAX_DURATION', async () => {
    const opts = options({ gapMs: 10 * MINUTE, maxDurationMs: HOUR });
    const stream = [0, 10, 20, 30, 40, 50, 59, 60, 61].map((m) => ev(T0 + m * MINUTE));
    const { sessions } = await sessionize([stream], opts);
    expect(sessions).toHaveLength(2);
    expect(sessions[0]).toMatchObject({
      startedAt: T0,
      endedAt: T0 + 59 * MINUTE,
      eventCount: 7,
      status: 'CLOSED',
      closeReason: 'MAX_DURATION',
      closedAt: 1_000_000,
    });
    expect(sessions[1]).toMatchObject({ startedAt: T0 + HOUR, eventCount: 2, startedByCut: true, status: 'OPEN' });
  });

  it('one ms under maxDuration still joins', async () => {
    const opts = options({ gapMs: 10 * MINUTE, maxDurationMs: HOUR });
    const { sessions } = await sessionize([[ev(T0), ev(T0 + 5 * MINUTE), ev(T0 + 10 * MINUTE), ev(T0 + 15 * MINUTE)]], {
      ...opts,
      maxDurationMs: 15 * MINUTE + 1,
    });
    expect(sessions).toHaveLength(1);
  });

  it('orders events with equal timestamps by eventId', async () => {
    const a = ev(T0, { eventId: 'b', name: 'second' });
    const b = ev(T0, { eventId: 'a', name: 'first' });
    const c = ev(T0, { eventId: 'c', name: 'third' });
    const { sessions } = await sessionize([[c], [a], [b]], options());
    expect(sessions).toHaveLength(1);
    expect(sessions[0]).toMatchObject({ firstEventName: 'first', firstEventId: 'a', lastEventName: 'third', lastEventId: 'c' });
  });

  it('compares eventIds as plain strings ("10" < "9")', async () => {
    const { sessions } = await sessionize([[ev(T0, { eventId: '9', name: 'nine' }), ev(T0, { eventId: '10', name: 'ten' })]], options());
    expect(sessions[0]).toMatchObject({ firstEventName: 'ten', lastEventName: 'nine' });
  });

  it('a duplicate eventId changes nothing, within a batch and across batches', async () => {
    const first = ev(T0, { eventId: 'dup', name: 'view', value: 5 });
    const again = ev(T0 + MINUTE, { eventId: 'dup', name: 'purchase', value: 100 });
    const { sessions, store } = await sessionize([[first, again], [again, ev(T0 + 2 * MINUTE)]], options());
    expect(sessions).toHaveLength(1);
    expect(sessions[0]).toMatchObject({ eventCount: 2, totalValue: 5, converted: false, eventCounts: { view: 2 } });
    expect(store.events()).toHaveLength(2);
  });

  it('top channel: highest count wins', async () => {
    const evs = [ev(T0, { channelId: 'web' }), ev(T0 + 1, { channelId: 'app' }), ev(T0 + 2, { channelId: 'app' })];
    const { sessions } = await sessionize([evs], options());
    expect(sessions[0]?.topChannel).toBe('app');
  });

  it('top channel: on equal counts the channel seen earliest in the session wins', async () => {
    // Arrival order differs from event order: "web" arrives last but happened first.
    const evs = [ev(T0 + 2, { channelId: 'app' }), ev(T0 + 3, { channelId: 'app' }), ev(T0 + 4, { channelId: 'web' }), ev(T0 + 1, { channelId: 'web' })];
    const { sessions } = await sessionize([evs], options());
    expect(sessions[0]?.topChannel).toBe('web');
    expect(sessions[0]?.channels).toEqual({
      app: { count: 2, firstAt: T0 + 2, firstEventId: evs[0]?.eventId },
      web: { count: 2, firstAt: T0 + 1, firstEventId: evs[3]?.eventId },
    });
  });

  it('top channel: at the same timestamp the earlier eventId decides', async () => {
    const evs = [ev(T0, { eventId: 'b', channelId: 'aaa' }), ev(T0, { eventId: 'a', channelId: 'zzz' })];
    const { sessions } = await sessionize([evs], options());
    expect(sessions[0]?.topChannel).toBe('zzz');
  });

  it('top channel is null when no event has a channel', async () => {
    const { sessions } = await sessionize([[ev(T0), ev(T0 + 1)]], options());
    expect(sessions[0]?.topChannel).toBeNull();
    expect(sessions[0]?.channels).toEqual({});
  });

  it('derives duration, value, conversion, engagement and bounce', async () => {
    const { sessions } = await sessionize(
      [
        [ev(T0, { name: 'view', value: null })],
        [ev(T0 + 9_999, { name: 'view', value: 2.5, userId: 'u2' })],
        [ev(T0 + 20 * MINUTE, { name: 'purchase', value: 10, userId: 'u3' })],
      ],
      options({ engagedMinEvents: 3 }),
    );
    const [u1, u2, u3] = sessions;
    expect(u1).toMatchObject({ bounced: true, engaged: false, converted: false, totalValue: 0, durationMs: 0 });
    expect(u2).toMatchObject({ bounced: true, engaged: false, totalValue: 2.5 });
    expect(u3).toMatchObject({ bounced: true, engaged: true, converted: true, totalValue: 10, closesAt: T0 + 50 * MINUTE });
    const long = await sessionize([[ev(T0), ev(T0 + 10_000)]], options({ engagedMinEvents: 3 }));
    expect(long.sessions[0]).toMatchObject({ engaged: true, durationMs: 10_000, bounced: false });
  });

  it('keeps a name "__proto__" as a plain count', async () => {
    const { sessions } = await sessionize([[ev(T0, { name: '__proto__', channelId: '__proto__' })]], options());
    expect(Object.keys(sessions[0]?.eventCounts ?? {})).toEqual(['__proto__']);
    expect(sessions[0]?.topChannel).toBe('__proto__');
  });
});

describe('sessions with many distinct names and channels', () => {
  it('count exactly past the point where a session indexes its names', async () => {
    const evs = Array.from({ length: 120 }, (_, i) =>
      ev(T0 + ((i * 37) % 120) * 1_000, { name: `n${i % 40}`, channelId: i % 7 === 0 ? null : `c${i % 25}`, value: i }),
    );
    // Two halves that only a late event joins: the merge folds one index into the other.
    const bridge = ev(T0 + 60_500, { name: 'n0' });
    const early = evs.filter((e) => e.ts < T0 + 60_000);
    const late = evs.filter((e) => e.ts > T0 + 61_000);
    const { sessions } = await sessionize([early, late, [bridge]], options({ gapMs: 1_500, allowedLatenessMs: 100_000 }));
    expect(sessions).toHaveLength(1);
    expect(Object.keys(sessions[0]?.eventCounts ?? {})).toHaveLength(40);
    expect(Object.keys(sessions[0]?.channels ?? {})).toHaveLength(25);
  });
});
