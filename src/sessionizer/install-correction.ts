import type { ChangeLog } from './change-log.ts';
import { resetFromSnapshot, stateFromSnapshot } from './metrics.ts';
import type { CorrectionResult, SessionSnapshot, SessionState } from './types.ts';
import { byFirstKey } from './user-state.ts';
import type { UserState } from './user-state.ts';

export interface InstallOutcome {
  /** Sessions that entered memory. */
  opened: number;
  /** Sessions that left memory (closed or removed by the correction). */
  dropped: number;
  /** Sessions whose timers must be (re)registered. */
  tracked: SessionState[];
  /** Largest endedAt of the result's sessions closed for a reason other than MAX_DURATION. */
  frontier: number;
}

/**
 * Replaces the user's in-memory open sessions covered by a correction with
 * its OPEN sessions and records its changes in the log. States keep their
 * identity when they stay open, so pending log entries still see them.
 */
export function installCorrection(
  u: UserState,
  result: CorrectionResult,
  epoch: number,
  log: ChangeLog,
): InstallOutcome {
  const byId = new Map<string, SessionSnapshot>();
  for (const snap of result.sessions) byId.set(snap.id, snap);
  const removed = new Set<string>();
  const changed = new Set<string>();
  for (const c of result.changes) (c.kind === 'removed' ? removed : changed).add(c.session.id);

  const installed = new Map<string, SessionState>();
  const tracked: SessionState[] = [];
  const kept: SessionState[] = [];
  let dropped = 0;
  let opened = 0;
  for (const s of u.open) {
    const snap = byId.get(s.id);
    if (snap === undefined && !removed.has(s.id)) {
      kept.push(s); // outside the region
      continue;
    }
    if (snap !== undefined && snap.status === 'OPEN') {
      if (changed.has(s.id)) {
        resetFromSnapshot(s, snap);
        s.touchedEpoch = epoch; // the correction already moved its version
        tracked.push(s); // closesAt may have shrunk: a fresh heap entry
      }
      kept.push(s);
      installed.set(s.id, s);
      continue;
    }
    s.live = false;
    s.user = null;
    dropped++;
  }
  for (const snap of result.sessions) {
    if (snap.status !== 'OPEN' || installed.has(snap.id)) continue;
    const s = stateFromSnapshot(snap);
    if (changed.has(snap.id)) s.touchedEpoch = epoch;
    kept.push(s);
    installed.set(snap.id, s);
    tracked.push(s);
    opened++;
  }
  kept.sort(byFirstKey);
  u.open = kept;

  let frontier = Number.NEGATIVE_INFINITY;
  for (const snap of result.sessions) {
    // MAX_DURATION closures are guarded by their cut-started successor.
    if (snap.status === 'CLOSED' && snap.closeReason !== 'MAX_DURATION' && snap.endedAt > frontier) {
      frontier = snap.endedAt;
    }
  }
  for (const c of result.changes) {
    const s = c.kind === 'removed' ? undefined : installed.get(c.session.id);
    if (s !== undefined) log.push(c.kind, s);
    else log.pushChange(c);
  }
  return { opened, dropped, tracked, frontier };
}
