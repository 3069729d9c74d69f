import { keyLess, stateFromSnapshot } from './metrics.ts';
import type { SessionSnapshot, SessionState, UserState } from './types.ts';

export type { UserState } from './types.ts';

export function createUser(userId: string, nowMs: number): UserState {
  return {
    userId,
    open: [],
    lastReceivedAt: nowMs,
    quietKey: Number.NaN,
    frontier: Number.NEGATIVE_INFINITY,
    frontierKey: Number.NaN,
  };
}

/** Orders sessions by the key of their first event. */
export function byFirstKey(a: SessionState, b: SessionState): number {
  if (keyLess(a.startedAt, a.firstEventId, b.startedAt, b.firstEventId)) return -1;
  return keyLess(b.startedAt, b.firstEventId, a.startedAt, a.firstEventId) ? 1 : 0;
}

/** Adds a stored open session to the user's list, keeping it ordered. */
export function insertSorted(u: UserState, snap: SessionSnapshot): SessionState {
  const s = stateFromSnapshot(snap);
  u.open.push(s);
  if (u.open.length > 1) u.open.sort(byFirstKey);
  return s;
}
