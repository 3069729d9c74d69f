import { referrerDomainOf } from '../../../src/sessionizer/attribution.ts';
import { channelGroupOf, type ChannelGroup } from '../../../src/sessionizer/channel-group.ts';
import type { ChannelStat, SessionEvent, SessionRules } from '../../../src/sessionizer/types.ts';

/** A session as the rules define it over a complete event set (no ids, no status). */
export interface ReferenceSession {
  readonly userId: string;
  readonly startedAt: number;
  readonly endedAt: number;
  readonly closesAt: number;
  readonly durationMs: number;
  readonly eventCount: number;
  readonly eventCounts: Readonly<Record<string, number>>;
  readonly channels: Readonly<Record<string, ChannelStat>>;
  readonly topChannel: string | null;
  readonly totalValue: number;
  readonly converted: boolean;
  readonly engaged: boolean;
  readonly bounced: boolean;
  readonly firstEventName: string;
  readonly firstEventId: string;
  readonly lastEventName: string;
  readonly lastEventId: string;
  readonly startedByCut: boolean;
  /** The next session was cut from this one by maxDuration (it closes with MAX_DURATION). */
  readonly cutAfter: boolean;
  readonly entryUrl: string | null;
  readonly exitUrl: string | null;
  readonly referrer: string | null;
  readonly referrerDomain: string | null;
  readonly utmSource: string | null;
  readonly utmMedium: string | null;
  readonly utmCampaign: string | null;
  readonly utmTerm: string | null;
  readonly utmContent: string | null;
  readonly channelGroup: ChannelGroup;
}

/**
 * The brute-force definition of the session rules, for tests and offline
 * checks: duplicates by eventId are dropped (first one in array order wins),
 * each user's events are sorted by (ts, eventId) and cut greedily. Sessions
 * come out ordered by userId, then startedAt. O(n log n); no shortcuts.
 */
export function referenceSessions(events: readonly SessionEvent[], rules: SessionRules): ReferenceSession[] {
  const seen = new Set<string>();
  const byUser = new Map<string, SessionEvent[]>();
  for (const e of events) {
    if (seen.has(e.eventId)) continue;
    seen.add(e.eventId);
    const list = byUser.get(e.userId);
    if (list === undefined) byUser.set(e.userId, [e]);
    else list.push(e);
  }
  const out: ReferenceSession[] = [];
  for (const userId of [...byUser.keys()].sort()) {
    const list = (byUser.get(userId) as SessionEvent[]).sort((a, b) =>
      a.ts !== b.ts ? a.ts - b.ts : a.eventId < b.eventId ? -1 : a.eventId > b.eventId ? 1 : 0,
    );
    let current: SessionEvent[] = [];
    let byCut = false;
    for (const e of list) {
      const first = current[0];
      const last = current[current.length - 1];
      if (first === undefined || last === undefined) {
        current.push(e);
        continue;
      }
      const gapOk = e.ts - last.ts <= rules.gapMs;
      if (gapOk && e.ts - first.ts < rules.maxDurationMs) {
        current.push(e);
        continue;
      }
      out.push(describe(userId, current, byCut, gapOk, rules));
      current = [e];
      byCut = gapOk;
    }
    if (current.length > 0) out.push(describe(userId, current, byCut, false, rules));
  }
  return out;
}

function describe(
  userId: string,
  evs: readonly SessionEvent[],
  startedByCut: boolean,
  cutAfter: boolean,
  rules: SessionRules,
): ReferenceSession {
  const first = evs[0] as SessionEvent;
  const last = evs[evs.length - 1] as SessionEvent;
  const eventCounts = new Map<string, number>();
  const channels = new Map<string, { count: number; firstAt: number; firstEventId: string }>();
  let totalValue = 0;
  let converted = false;
  for (const e of evs) {
    eventCounts.set(e.name, (eventCounts.get(e.name) ?? 0) + 1);
    totalValue += e.value ?? 0;
    if (rules.conversionEvents.has(e.name)) converted = true;
    if (e.channelId !== null) {
      const c = channels.get(e.channelId);
      // Events are in key order, so the first one seen is the channel's first.
      if (c === undefined) channels.set(e.channelId, { count: 1, firstAt: e.ts, firstEventId: e.eventId });
      else c.count++;
    }
  }
  const ranked = [...channels.entries()].sort(([ia, a], [ib, b]) => {
    if (a.count !== b.count) return b.count - a.count;
    if (a.firstAt !== b.firstAt) return a.firstAt - b.firstAt;
    if (a.firstEventId !== b.firstEventId) return a.firstEventId < b.firstEventId ? -1 : 1;
    return ia < ib ? -1 : 1;
  });
  const durationMs = last.ts - first.ts;
  // Attribution: entry and exit are the first and last events (in key order) with a url; utm from the first event with any.
  const withUrl = evs.filter((e) => (e.attribution?.url ?? null) !== null);
  const entry = withUrl[0]?.attribution ?? null;
  const utm = evs.find((e) => (e.attribution?.utm ?? null) !== null)?.attribution?.utm ?? null;
  const referrerDomain = referrerDomainOf(entry?.url ?? null, entry?.referrer ?? null);
  return {
    userId,
    startedAt: first.ts,
    endedAt: last.ts,
    closesAt: last.ts + rules.gapMs,
    durationMs,
    eventCount: evs.length,
    eventCounts: Object.fromEntries(eventCounts),
    channels: Object.fromEntries(channels),
    topChannel: ranked[0]?.[0] ?? null,
    totalValue,
    converted,
    engaged: durationMs >= rules.engagedMinDurationMs || converted || evs.length >= rules.engagedMinEvents,
    bounced: evs.length === 1,
    firstEventName: first.name,
    firstEventId: first.eventId,
    lastEventName: last.name,
    lastEventId: last.eventId,
    startedByCut,
    cutAfter,
    entryUrl: entry?.url ?? null,
    exitUrl: withUrl[withUrl.length - 1]?.attribution?.url ?? null,
    referrer: entry?.referrer ?? null,
    referrerDomain,
    utmSource: utm?.source ?? null,
    utmMedium: utm?.medium ?? null,
    utmCampaign: utm?.campaign ?? null,
    utmTerm: utm?.term ?? null,
    utmContent: utm?.content ?? null,
    channelGroup: channelGroupOf(utm?.source ?? null, utm?.medium ?? null, referrerDomain),
  };
}
