/**
 * The ids `sessions sessionize` gives its sessions (docs/cli.md): RFC 9562
 * version 8 UUIDs derived from the user and the start, so the same session
 * gets the same id on every run and two sessions of one user never share
 * one. Checked against the UUID grammar and by counting collisions, not
 * against values the code computed.
 */
import { describe, expect, it } from 'vitest';
import { sessionId } from '../../../src/cli/session-id.ts';
import { rng } from '../../helpers/random.ts';

const VERSION_8 = /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const T0 = Date.UTC(2016, 10, 8);

describe('session ids', () => {
  it('are version 8 UUIDs in lower-case hex, for any user text and start', () => {
    const users = ['1', '', 'u-7', 'Café', '😀', 'x'.repeat(256), '\u0000'];
    const starts = [0, 1, T0, T0 + 999, 8.64e15, -8.64e15, 2 ** 32, 2 ** 32 - 1];
    for (const u of users) for (const t of starts) expect(sessionId(u, t)).toMatch(VERSION_8);
  });

  it('are the same for the same user and start, and differ for every other start of that user', () => {
    expect(sessionId('42', T0)).toBe(sessionId('42', T0));
    for (const user of ['42', 'user-7']) {
      const ids = new Set<string>();
      // Every millisecond of 200 s, and starts 2^32 ms apart (the two halves of the start).
      for (let t = 0; t < 200_000; t++) ids.add(sessionId(user, T0 + t));
      for (let k = 1; k <= 1_000; k++) ids.add(sessionId(user, T0 + k * 2 ** 32));
      expect(ids.size).toBe(201_000);
    }
  });

  it('do not repeat across users, whatever their starts', () => {
    const random = rng(3);
    const ids = new Set<string>();
    const n = 300_000;
    // Users whose ids differ in one character, and all at the same few starts.
    for (let i = 0; i < n; i++) ids.add(sessionId(`u${i}`, T0 + Math.floor(random() * 4) * 30_000));
    expect(ids.size).toBe(n);
    expect(sessionId('ab', T0)).not.toBe(sessionId('ba', T0));
  });
});
