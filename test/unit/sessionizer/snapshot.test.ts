import { describe, expect, it } from 'vitest';
import { createState } from '../../../src/sessionizer/metrics.ts';
import { sameContent, snapshotOf } from '../../../src/sessionizer/snapshot.ts';
import { ev, options } from './helpers.ts';

const rules = options();

describe('snapshotOf', () => {
  it('breaks a full top-channel tie (count and first event key) by the smallest channel id', () => {
    // Real events cannot produce this tie (a channel's first event is its own);
    // the rule is still defined, so check it on a hand-made state.
    const s = createState('s', ev(0, { eventId: 'x', channelId: 'b' }), false, rules.conversionEvents);
    s.channels = ['b', 2, 0, 'x', 'a', 2, 0, 'x', 'c', 1, 0, 'a'];
    expect(snapshotOf(s, rules).topChannel).toBe('a');
  });

  it('is a plain object that sameContent compares field by field, ignoring version', () => {
    const s = createState('s', ev(5, { channelId: 'web', value: 3 }), false, rules.conversionEvents);
    const a = snapshotOf(s, rules);
    s.version = 9;
    const b = snapshotOf(s, rules);
    expect(Object.getPrototypeOf(a)).toBe(Object.prototype);
    expect(sameContent(a, b)).toBe(true);
    s.totalValue = 4;
    expect(sameContent(a, snapshotOf(s, rules))).toBe(false);
  });
});
