import { describe, expect, it } from 'vitest';
import { ChangePublisher, type SessionAnnouncement } from '../../src/realtime/change-publisher.ts';
import { SessionBus } from '../../src/realtime/session-bus.ts';
import type { SessionView } from '../../src/store/session-view.ts';

const view = (id: string, eventCount: number, userId = 'u'): SessionView => ({ id, userId, eventCount, definition: 'default' }) as SessionView;
const change = (kind: 'started' | 'updated' | 'closed', s: SessionView): SessionAnnouncement => ({
  kind,
  sessionId: s.id,
  userId: s.userId,
  definition: s.definition,
  view: () => s,
});

describe('ChangePublisher merges', () => {
  it('announces a session merged away with the survivor as the commit left it', async () => {
    const bus = new SessionBus();
    const merged = bus.subscribe({ definition: 'default', topic: 'merged', userId: 'u' });
    new ChangePublisher(bus, 1_000).announce([
      change('updated', view('early', 2)),
      { kind: 'removed', sessionId: 'late', userId: 'u', definition: 'default', mergedInto: 'early' },
      change('closed', view('early', 3)),
    ]);
    expect((await merged.next()).value).toEqual({ mergedId: 'late', userId: 'u', definition: 'default', into: view('early', 3) });
  });

  it('says nothing of a removal without a survivor, or when nobody listens', async () => {
    const bus = new SessionBus();
    bus.subscribe({ definition: 'default', topic: 'merged', userId: 'someone-else' });
    let built = 0;
    const publisher = new ChangePublisher(bus, 1_000);
    publisher.announce([
      { kind: 'updated', sessionId: 'early', userId: 'u', definition: 'default', view: () => (built++, view('early', 2)) },
      { kind: 'removed', sessionId: 'late', userId: 'u', definition: 'default', mergedInto: 'early' },
    ]);
    expect(built).toBe(0);
    const mine = bus.subscribe({ definition: 'default', topic: 'merged', userId: null });
    publisher.announce([{ kind: 'removed', sessionId: 'gone', userId: 'u', definition: 'default', mergedInto: null }]);
    bus.publish('merged', { mergedId: 'marker', userId: 'u', definition: 'default', into: view('x', 1) });
    expect((await mine.next()).value?.mergedId).toBe('marker');
  });

  it('drops a pending coalesced update of the merged-away session', async () => {
    const bus = new SessionBus();
    const updates = bus.subscribe({ definition: 'default', topic: 'updated', userId: 'u' });
    let now = 0;
    const publisher = new ChangePublisher(bus, 1_000, () => now);
    publisher.announce([change('updated', view('late', 1))]);
    expect((await updates.next()).value?.id).toBe('late');
    now = 10;
    publisher.announce([change('updated', view('late', 2))]); // pending: inside the interval
    publisher.announce([{ kind: 'removed', sessionId: 'late', userId: 'u', definition: 'default', mergedInto: 'early' }]);
    publisher.flushPending();
    bus.publish('updated', view('marker', 0));
    expect((await updates.next()).value?.id).toBe('marker');
  });
});
