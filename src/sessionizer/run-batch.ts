import { correctSessions, expandRegion } from './correction.ts';
import type { Sessionizer } from './sessionizer.ts';
import type { Change, CorrectionRequest, SessionEvent, SessionSnapshot, SessionStorePort } from './types.ts';

/** A user still to correct, with the range loaded for it so far. */
interface Pending {
  readonly request: CorrectionRequest;
  readonly lo: number;
  readonly hi: number;
}

export interface BatchOutcome {
  /** Events stored and sessionized (new eventIds), in input order. */
  readonly accepted: SessionEvent[];
  /** Events dropped because their eventId was already stored (or repeated in the batch). */
  readonly duplicates: number;
  /** Every change saved for this batch, in order (to publish). */
  readonly changes: Change[];
  /** Users recomputed from the store. */
  readonly corrections: number;
}

/**
 * One ingest batch after its events are stored: `accepted` are the new
 * ones (the store's answer), `duplicates` how many were not. Sessionizes
 * them, saves the changes, then recomputes each deferred user from the
 * store and saves that. Generic over the store port.
 */
export async function applyBatch(
  sessionizer: Sessionizer,
  accepted: SessionEvent[],
  duplicates: number,
  store: SessionStorePort,
  nowMs: number,
): Promise<BatchOutcome> {
  sessionizer.beginBatch();
  const requests = sessionizer.apply(accepted, nowMs);
  const changes = sessionizer.drainChanges();
  await store.saveChanges(changes);
  if (requests.length > 0) for (const c of await correctUsers(sessionizer, store, requests, nowMs)) changes.push(c);
  return { accepted, duplicates, changes, corrections: requests.length };
}

/**
 * Recomputes the deferred users of a batch together: loads every user's
 * region in one round (and, rarely, one more for the users whose region
 * turned out wider: a neighbour within gap lay outside what was loaded),
 * re-runs the rules per user (expandRegion, correctSessions), installs the
 * results and saves all their changes at once. A constant number of
 * statements per group, whatever the number of late users. The
 * sessionizer's earlier changes must already be saved.
 */
export async function correctUsers(
  sessionizer: Sessionizer,
  store: SessionStorePort,
  requests: readonly CorrectionRequest[],
  nowMs: number,
): Promise<Change[]> {
  const gap = sessionizer.opts.gapMs;
  let pending: Pending[] = requests.map((request) => ({ request, lo: request.fromTs - gap, hi: request.toTs + gap }));
  while (pending.length > 0) {
    const loaded = await store.loadRegions(pending.map((p) => ({ userId: p.request.userId, fromTs: p.lo, toTs: p.hi })));
    const wider: Pending[] = [];
    for (const { request, lo, hi } of pending) {
      const region = loaded.get(request.userId) ?? { events: [], sessions: [] };
      const sorted = [...region.sessions].sort(byStart);
      const expanded = expandRegion(request.fromTs, request.toTs, sorted, gap);
      if (expanded.fromTs - gap < lo || expanded.toTs + gap > hi) {
        wider.push({ request, lo: Math.min(lo, expanded.fromTs - gap), hi: Math.max(hi, expanded.toTs + gap) });
        continue;
      }
      const events = region.events.filter((e) => e.ts >= expanded.fromTs && e.ts <= expanded.toTs);
      const result = correctSessions(
        { userId: request.userId, events, stored: expanded.sessions, watermark: sessionizer.watermark(), nowMs },
        sessionizer.opts,
      );
      sessionizer.applyCorrection(request.userId, result, nowMs);
    }
    pending = wider;
  }
  const changes = sessionizer.drainChanges();
  await store.saveChanges(changes);
  return changes;
}

function byStart(a: SessionSnapshot, b: SessionSnapshot): number {
  return a.startedAt - b.startedAt;
}
