import type { RefEvent } from './reference.ts';

export interface GenerateOptions {
  users: number;
  /** Events per user (approximate upper bound). */
  eventsPerUser: number;
  startMs: number;
  gapMs: number;
  maxDurationMs: number;
  random: () => number;
}

const NAMES = ['page_view', 'page_view', 'send_message', 'click', 'purchase'];
const CHANNELS = ['web', 'ios', 'android', null];

/**
 * Events whose gaps straddle the rules: many just under and over GAP, exact
 * GAP, steady streams that reach MAX_DURATION, equal timestamps.
 */
export function generateEvents(o: GenerateOptions): RefEvent[] {
  const events: RefEvent[] = [];
  for (let u = 0; u < o.users; u++) {
    const userId = `user-${u}`;
    let ts = o.startMs + Math.floor(o.random() * o.gapMs * 3);
    const n = 1 + Math.floor(o.random() * o.eventsPerUser);
    for (let i = 0; i < n; i++) {
      const pick = o.random();
      const channelId = CHANNELS[Math.floor(o.random() * CHANNELS.length)] ?? null;
      const name = NAMES[Math.floor(o.random() * NAMES.length)] ?? 'page_view';
      events.push({
        eventId: `${userId}-e${i}`,
        userId,
        name,
        ts,
        channelId,
        value: name === 'purchase' ? Math.round(o.random() * 10_000) / 100 : null,
      });
      if (pick < 0.05) ts += 0; // same timestamp: ordered by eventId
      else if (pick < 0.1) ts += o.gapMs; // exactly GAP: joins
      else if (pick < 0.15) ts += o.gapMs + 1; // GAP + 1 ms: splits
      else if (pick < 0.7) ts += Math.floor(o.random() * o.gapMs * 0.5);
      else if (pick < 0.95) ts += Math.floor(o.random() * o.gapMs);
      else ts += o.gapMs * (2 + Math.floor(o.random() * 5));
    }
  }
  return events;
}

/** Fisher-Yates shuffle with the given PRNG. */
export function shuffle<T>(items: T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

/**
 * Arrival order where each event arrives at most `latenessMs` of event time
 * after events later than it: sort by ts + random delay in [0, latenessMs].
 */
export function shuffleWithin<T extends { ts: number }>(items: T[], latenessMs: number, random: () => number): T[] {
  return items
    .map((item) => ({ item, key: item.ts + random() * latenessMs }))
    .sort((a, b) => a.key - b.key)
    .map((x) => x.item);
}

/** Splits into batches of random sizes in [1, max]. */
export function randomBatches<T>(items: T[], max: number, random: () => number): T[][] {
  const batches: T[][] = [];
  for (let i = 0; i < items.length; ) {
    const size = 1 + Math.floor(random() * max);
    batches.push(items.slice(i, i + size));
    i += size;
  }
  return batches;
}

/** The GraphQL input shape of an event. */
export function toInput(e: RefEvent): Record<string, unknown> {
  return {
    eventId: e.eventId,
    userId: e.userId,
    name: e.name,
    timestamp: new Date(e.ts).toISOString(),
    channelId: e.channelId ?? null,
    value: e.value ?? null,
  };
}

export const INGEST = `mutation Ingest($events: [EventInput!]!) {
  ingestEvents(events: $events) { accepted duplicates rejected { index code message } }
}`;

export const SESSION_FIELDS = `id userId status startedAt endedAt closesAt durationSeconds eventCount
  eventCounts { name count } channels { channelId count firstSeenAt } topChannel totalValue converted engaged
  bounced firstEventName lastEventName closeReason closedAt version closeCursor
  entryUrl exitUrl referrer referrerDomain utmSource utmMedium utmCampaign utmTerm utmContent channelGroup`;

/** Runs tasks with at most `limit` in flight. */
export async function inParallel<T>(items: T[], limit: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: limit }, async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await task(item);
    }
  });
  await Promise.all(workers);
}
