/**
 * A brute-force sessionizer written independently of src/sessionizer, for
 * end-to-end assertions: sort each user's distinct events and cut.
 */
export { rng } from './random.ts';
export interface RefEvent {
  eventId: string;
  userId: string;
  name: string;
  ts: number;
  channelId?: string | null;
  value?: number | null;
}

export interface RefSession {
  userId: string;
  startedAt: number;
  endedAt: number;
  eventCount: number;
  eventCounts: Record<string, number>;
  topChannel: string | null;
  totalValue: number;
  converted: boolean;
  engaged: boolean;
  bounced: boolean;
  firstEventName: string;
  lastEventName: string;
  durationSeconds: number;
}

export interface RefRules {
  gapMs: number;
  maxDurationMs: number;
  conversionEvents: string[];
  engagedMinDurationMs: number;
  engagedMinEvents: number;
}

export function referenceSessions(events: readonly RefEvent[], rules: RefRules): RefSession[] {
  const seen = new Set<string>();
  const byUser = new Map<string, RefEvent[]>();
  for (const e of events) {
    if (seen.has(e.eventId)) continue;
    seen.add(e.eventId);
    const list = byUser.get(e.userId) ?? [];
    list.push(e);
    byUser.set(e.userId, list);
  }
  const out: RefSession[] = [];
  for (const list of byUser.values()) {
    list.sort((a, b) => a.ts - b.ts || (a.eventId < b.eventId ? -1 : 1));
    let current: RefEvent[] = [];
    const emit = () => {
      if (current.length > 0) out.push(summarize(current, rules));
      current = [];
    };
    for (const e of list) {
      const first = current[0];
      const last = current[current.length - 1];
      if (first && last && (e.ts - last.ts > rules.gapMs || e.ts - first.ts >= rules.maxDurationMs)) emit();
      current.push(e);
    }
    emit();
  }
  return out.sort((a, b) => (a.userId < b.userId ? -1 : a.userId > b.userId ? 1 : a.startedAt - b.startedAt));
}

function summarize(events: RefEvent[], rules: RefRules): RefSession {
  const first = events[0] as RefEvent;
  const last = events[events.length - 1] as RefEvent;
  const eventCounts: Record<string, number> = {};
  const channels = new Map<string, { count: number; order: number }>();
  let totalValue = 0;
  events.forEach((e, i) => {
    eventCounts[e.name] = (eventCounts[e.name] ?? 0) + 1;
    totalValue += e.value ?? 0;
    if (e.channelId) {
      const c = channels.get(e.channelId) ?? { count: 0, order: i };
      c.count += 1;
      channels.set(e.channelId, c);
    }
  });
  let topChannel: string | null = null;
  let best = { count: -1, order: Infinity };
  for (const [id, c] of channels) {
    if (c.count > best.count || (c.count === best.count && c.order < best.order)) {
      topChannel = id;
      best = c;
    }
  }
  const durationMs = last.ts - first.ts;
  const converted = events.some((e) => rules.conversionEvents.includes(e.name));
  return {
    userId: first.userId,
    startedAt: first.ts,
    endedAt: last.ts,
    eventCount: events.length,
    eventCounts,
    topChannel,
    totalValue,
    converted,
    engaged: durationMs >= rules.engagedMinDurationMs || converted || events.length >= rules.engagedMinEvents,
    bounced: events.length === 1,
    firstEventName: first.name,
    lastEventName: last.name,
    durationSeconds: durationMs / 1000,
  };
}

/** Continuous percentile (as Postgres percentile_cont). */
export function percentileCont(values: number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = p * (sorted.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  return (sorted[lo] as number) + ((sorted[hi] as number) - (sorted[lo] as number)) * (rank - lo);
}

