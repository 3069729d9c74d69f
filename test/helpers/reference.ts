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
  /** Event properties as sent (attribution reads url, referrer, utm_* and Segment's context). */
  properties?: Record<string, unknown> | null;
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
  return referenceGroups(events, rules).map((group) => summarize(group, rules));
}

/** Each session's distinct events in key order; sessions ordered by user, then start. */
export function referenceGroups(events: readonly RefEvent[], rules: RefRules): RefEvent[][] {
  const seen = new Set<string>();
  const byUser = new Map<string, RefEvent[]>();
  for (const e of events) {
    if (seen.has(e.eventId)) continue;
    seen.add(e.eventId);
    const list = byUser.get(e.userId) ?? [];
    list.push(e);
    byUser.set(e.userId, list);
  }
  const out: RefEvent[][] = [];
  for (const list of byUser.values()) {
    list.sort((a, b) => a.ts - b.ts || (a.eventId < b.eventId ? -1 : 1));
    let current: RefEvent[] = [];
    const emit = () => {
      if (current.length > 0) out.push(current);
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
  const key = (g: RefEvent[]) => g[0] as RefEvent;
  return out.sort((a, b) => (key(a).userId < key(b).userId ? -1 : key(a).userId > key(b).userId ? 1 : key(a).ts - key(b).ts));
}

/** The attribution fields of a session (docs/attribution.md), from its events in key order; channelGroup aside. */
export interface RefAttribution {
  entryUrl: string | null;
  exitUrl: string | null;
  referrer: string | null;
  referrerDomain: string | null;
  utmSource: string | null;
  utmMedium: string | null;
  utmCampaign: string | null;
  utmTerm: string | null;
  utmContent: string | null;
}

const UTM_KEYS = [
  ['utmSource', 'utm_source', 'source'],
  ['utmMedium', 'utm_medium', 'medium'],
  ['utmCampaign', 'utm_campaign', 'name'],
  ['utmTerm', 'utm_term', 'term'],
  ['utmContent', 'utm_content', 'content'],
] as const;

function text(o: unknown, ...path: string[]): string | null {
  let v: unknown = o;
  for (const k of path) v = v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>)[k] : undefined;
  return typeof v === 'string' && v.trim() !== '' ? v : null;
}

function host(url: string): string | null {
  const absolute = /^[a-z][a-z0-9+.-]*:\/\//i.test(url) ? url : /^[a-z0-9-]+(\.[a-z0-9-]+)+($|[/?#:])/i.test(url) ? `https://${url}` : null;
  if (absolute === null) return null;
  try {
    return new URL(absolute).hostname || null;
  } catch {
    return null;
  }
}

/** Brute force over a session's events: first and last url, the entry's referrer, utm of the first event with any. */
export function referenceAttribution(events: readonly RefEvent[]): RefAttribution {
  const urlOf = (e: RefEvent) => text(e.properties, 'url') ?? text(e.properties, 'context', 'page', 'url');
  const withUrl = events.filter((e) => urlOf(e) !== null);
  const entry = withUrl[0];
  const entryUrl = entry === undefined ? null : urlOf(entry);
  const referrer = entry === undefined ? null : (text(entry.properties, 'referrer') ?? text(entry.properties, 'context', 'page', 'referrer'));
  const refHost = referrer === null ? null : host(referrer);
  const entryHost = entryUrl !== null && /^[a-z][a-z0-9+.-]*:\/\//i.test(entryUrl) ? host(entryUrl) : null;
  const utms = events.map((e) => {
    const explicit = UTM_KEYS.map(([, prop, campaign]) => text(e.properties, prop) ?? text(e.properties, 'context', 'campaign', campaign));
    if (explicit.some((v) => v !== null)) return explicit;
    const url = urlOf(e);
    if (url === null) return explicit;
    const query = new URL(url, 'http://base.invalid/').searchParams;
    return UTM_KEYS.map(([, prop]) => {
      const v = query.get(prop);
      return v === null || v.trim() === '' ? null : v;
    });
  });
  const utm = utms.find((u) => u.some((v) => v !== null)) ?? [null, null, null, null, null];
  return {
    entryUrl,
    exitUrl: withUrl.length === 0 ? null : urlOf(withUrl[withUrl.length - 1] as RefEvent),
    referrer,
    referrerDomain: refHost !== null && refHost !== entryHost ? refHost : null,
    ...(Object.fromEntries(UTM_KEYS.map(([field], i) => [field, utm[i] ?? null])) as Pick<RefAttribution, 'utmSource' | 'utmMedium' | 'utmCampaign' | 'utmTerm' | 'utmContent'>),
  };
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

