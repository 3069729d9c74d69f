// Mapping of Segment messages onto event inputs (DESIGN.md "HTTP surfaces
// beside GraphQL"), expected values written by hand.
import { describe, expect, it } from 'vitest';
import { InvalidDateTime } from '../../src/graphql/scalars.ts';
import { mapMessage } from '../../src/server/segment/message.ts';
import { headerKey } from '../../src/server/segment/write-key.ts';

const RECEIVED = Date.UTC(2026, 0, 1, 12, 0, 0);

describe('mapMessage', () => {
  it('maps a track with userId, messageId, revenue and skew correction by the batch sentAt', () => {
    const mapped = mapMessage(
      { type: 'track', userId: 'u1', anonymousId: 'a1', messageId: 'm1', event: 'Order Completed', timestamp: '2026-01-01T11:00:00.000Z', properties: { revenue: 12.5, value: 3 } },
      null,
      '2026-01-01T11:59:00.000Z', // the client clock is one minute behind
      RECEIVED,
    );
    expect(mapped).toEqual({
      kind: 'event',
      type: 'track',
      input: { eventId: 'm1', userId: 'u1', name: 'Order Completed', timestamp: Date.UTC(2026, 0, 1, 11, 1), value: 12.5, properties: { revenue: 12.5, value: 3 } },
    });
  });

  it('leaves timestamps as sent when receivedAt - sentAt is within the transit tolerance', () => {
    const at = (sentAt: string) =>
      mapMessage({ type: 'track', userId: 'u', event: 'e', timestamp: '2026-01-01T11:00:00.000Z', sentAt }, null, undefined, RECEIVED);
    // 10 s either way is transit time; 10.001 s is skew.
    expect(at('2026-01-01T11:59:50.000Z')).toMatchObject({ input: { timestamp: Date.UTC(2026, 0, 1, 11) } });
    expect(at('2026-01-01T12:00:10.000Z')).toMatchObject({ input: { timestamp: Date.UTC(2026, 0, 1, 11) } });
    expect(at('2026-01-01T11:59:49.999Z')).toMatchObject({ input: { timestamp: Date.UTC(2026, 0, 1, 11) + 10_001 } });
  });

  it('maps page and screen to page_view and screen_view, anonymousId to the user, context into properties', () => {
    const page = mapMessage(
      { anonymousId: 'anon', messageId: 'm2', originalTimestamp: '2026-01-01T10:00:00Z', properties: { value: 2, title: 'Home' }, context: { page: { url: 'https://a.example/' }, campaign: { source: 's' }, ip: '1.2.3.4' } },
      'page',
      undefined,
      RECEIVED,
    );
    expect(page).toEqual({
      kind: 'event',
      type: 'page',
      input: {
        eventId: 'm2',
        userId: 'anon',
        name: 'page_view',
        timestamp: Date.UTC(2026, 0, 1, 10),
        value: 2,
        properties: { value: 2, title: 'Home', context: { page: { url: 'https://a.example/' }, campaign: { source: 's' } } },
      },
    });
    const screen = mapMessage({ type: 'screen', userId: 7, name: 'Settings' }, null, undefined, RECEIVED);
    expect(screen).toEqual({ kind: 'event', type: 'screen', input: { eventId: null, userId: '7', name: 'screen_view', timestamp: RECEIVED, value: null, properties: null } });
    // A numeric messageId is an id too, as a numeric userId is (and as GraphQL's ID coerces it).
    const numbered = mapMessage({ type: 'track', userId: 'u', messageId: 42, event: 'e' }, null, undefined, RECEIVED);
    expect(numbered).toMatchObject({ kind: 'event', input: { eventId: '42', userId: 'u' } });
  });

  it('acknowledges identify, group and alias, refuses unknown types and non-objects, and passes bad timestamps to validation', () => {
    expect(mapMessage({ type: 'identify', userId: 'u' }, null, undefined, RECEIVED)).toEqual({ kind: 'acknowledged', type: 'identify' });
    expect(mapMessage({}, 'alias', undefined, RECEIVED)).toEqual({ kind: 'acknowledged', type: 'alias' });
    expect(mapMessage({ type: 'nope' }, null, undefined, RECEIVED)).toMatchObject({ kind: 'refused', code: 'UNKNOWN_TYPE' });
    expect(mapMessage([1], null, undefined, RECEIVED)).toMatchObject({ kind: 'refused', code: 'INVALID_MESSAGE' });
    const bad = mapMessage({ type: 'track', userId: 'u', event: 'x', timestamp: 'yesterday' }, null, undefined, RECEIVED);
    expect(bad.kind === 'event' && bad.input.timestamp instanceof InvalidDateTime).toBe(true);
  });
});

describe('headerKey', () => {
  it('reads the Basic user name (as the SDKs send it) and bearer keys', () => {
    expect(headerKey(`Basic ${Buffer.from('wk:').toString('base64')}`)).toBe('wk');
    expect(headerKey(`Basic ${Buffer.from('wk').toString('base64')}`)).toBe('wk');
    expect(headerKey('Bearer abc')).toBe('abc');
    expect(headerKey(`Basic ${Buffer.from(':pw').toString('base64')}`)).toBeNull();
    expect(headerKey(undefined)).toBeNull();
  });
});
