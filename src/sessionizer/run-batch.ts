import { correctSessions, expandRegion } from './correction.ts';
import type { Sessionizer } from './sessionizer.ts';
import type { Change, CorrectionRequest, SessionEvent, SessionSnapshot, SessionStorePort } from './types.ts';

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
 * One ingest batch: store new events, sessionize them in memory, save the
 * changes, then recompute each deferred user from the store and save that.
 * Generic over the store port, so Postgres and the in-memory twin share it.
 */
export async function runBatch(
  sessionizer: Sessionizer,
  events: readonly SessionEvent[],
  store: SessionStorePort,
  nowMs: number,
): Promise<BatchOutcome> {
  const accepted = await store.insertEvents(events);
  return applyBatch(sessionizer, accepted, events.length - accepted.length, store, nowMs);
}

/**
 * The part of {@link runBatch} after the events are stored: `accepted` are
 * the new ones (the store's answer), `duplicates` how many were not.
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
  for (const request of requests) {
    for (const c of await correctUser(sessionizer, store, request, nowMs)) changes.push(c);
  }
  return { accepted, duplicates, changes, corrections: requests.length };
}

/**
 * Recomputes one deferred user: widens the loaded range until the region
 * (expandRegion) fits in it, re-runs the rules, installs and saves the result.
 * The sessionizer's earlier changes must already be saved.
 */
export async function correctUser(
  sessionizer: Sessionizer,
  store: SessionStorePort,
  request: CorrectionRequest,
  nowMs: number,
): Promise<Change[]> {
  const gap = sessionizer.opts.gapMs;
  let lo = request.fromTs - gap;
  let hi = request.toTs + gap;
  for (;;) {
    const loaded = await store.loadRegion(request.userId, lo, hi);
    const sorted = [...loaded.sessions].sort(byStart);
    const region = expandRegion(request.fromTs, request.toTs, sorted, gap);
    if (region.fromTs - gap < lo || region.toTs + gap > hi) {
      // A neighbour within gap may lie outside what was loaded: load more.
      lo = Math.min(lo, region.fromTs - gap);
      hi = Math.max(hi, region.toTs + gap);
      continue;
    }
    const events = loaded.events.filter((e) => e.ts >= region.fromTs && e.ts <= region.toTs);
    const result = correctSessions(
      { userId: request.userId, events, stored: region.sessions, watermark: sessionizer.watermark(), nowMs },
      sessionizer.opts,
    );
    sessionizer.applyCorrection(request.userId, result, nowMs);
    const changes = sessionizer.drainChanges();
    await store.saveChanges(changes);
    return changes;
  }
}

/** Drains the sessionizer and saves the changes (after advanceTime or flush). */
export async function persistChanges(sessionizer: Sessionizer, store: SessionStorePort): Promise<Change[]> {
  const changes = sessionizer.drainChanges();
  await store.saveChanges(changes);
  return changes;
}

function byStart(a: SessionSnapshot, b: SessionSnapshot): number {
  return a.startedAt - b.startedAt;
}
