/**
 * A session's attribution, kept as three marks (the entry, exit and utm
 * events, each with its (ts, eventId) key) so that it folds like the other
 * metrics: in any order, across merges and restores, the marks end on the
 * first event with a url, the last event with a url and the first event with
 * utm values.
 */
import { referrerDomainOf, type EventAttribution, type Utm } from './attribution.ts';
import { channelGroupOf, type ChannelGroup } from './channel-group.ts';

/** The key of one event. */
export interface EventKey {
  readonly ts: number;
  readonly eventId: string;
}

interface EntryMark extends EventKey {
  readonly url: string;
  readonly referrer: string | null;
}
interface ExitMark extends EventKey {
  readonly url: string;
}
interface UtmMark extends EventKey {
  readonly utm: Utm;
}

/** The mutable attribution of an in-memory session (null on sessions whose events carry none). */
export interface AttributionState {
  entry: EntryMark | null;
  exit: ExitMark | null;
  utm: UtmMark | null;
}

/** A session's attribution as stored and published. */
export interface SessionAttribution {
  readonly entryUrl: string | null;
  readonly exitUrl: string | null;
  readonly referrer: string | null;
  /** Host of the referrer; null when none or the entry url's own host. */
  readonly referrerDomain: string | null;
  readonly utmSource: string | null;
  readonly utmMedium: string | null;
  readonly utmCampaign: string | null;
  readonly utmTerm: string | null;
  readonly utmContent: string | null;
  readonly channelGroup: ChannelGroup;
  /** Keys of the entry, exit and utm events: what a restored session needs to keep folding exactly. */
  readonly keys: AttributionKeys | null;
}

export interface AttributionKeys {
  readonly entry: EventKey | null;
  readonly exit: EventKey | null;
  readonly utm: EventKey | null;
}

/** The attribution of a session without any attribution input. */
export const NO_ATTRIBUTION: SessionAttribution = Object.freeze({
  entryUrl: null,
  exitUrl: null,
  referrer: null,
  referrerDomain: null,
  utmSource: null,
  utmMedium: null,
  utmCampaign: null,
  utmTerm: null,
  utmContent: null,
  channelGroup: 'Direct',
  keys: null,
});

/** Event key order (as keyLess in metrics.ts, which imports this file). */
const before = (a: EventKey, b: EventKey): boolean => a.ts < b.ts || (a.ts === b.ts && a.eventId < b.eventId);

/** The attribution of a session holding one event (null when the event has none). */
export function attributionStateOf(key: EventKey, a: EventAttribution | null | undefined): AttributionState | null {
  if (a === null || a === undefined) return null;
  const { ts, eventId } = key;
  return {
    entry: a.url === null ? null : { ts, eventId, url: a.url, referrer: a.referrer },
    exit: a.url === null ? null : { ts, eventId, url: a.url },
    utm: a.utm === null ? null : { ts, eventId, utm: a.utm },
  };
}

/**
 * Adds one event's attribution to a session's (in place; a mark is allocated
 * only when it moves). Returns the state, new when `s` was null.
 */
export function addAttribution(s: AttributionState | null, key: EventKey, a: EventAttribution): AttributionState | null {
  if (s === null) return attributionStateOf(key, a);
  const { ts, eventId } = key;
  if (a.url !== null) {
    if (s.entry === null || before(key, s.entry)) s.entry = { ts, eventId, url: a.url, referrer: a.referrer };
    if (s.exit === null || before(s.exit, key)) s.exit = { ts, eventId, url: a.url };
  }
  if (a.utm !== null && (s.utm === null || before(key, s.utm))) s.utm = { ts, eventId, utm: a.utm };
  return s;
}

/** Folds `b` into `a` (either may come first in time); returns the result (`a` itself when it was not null). */
export function mergeAttribution(a: AttributionState | null, b: AttributionState | null): AttributionState | null {
  if (b === null) return a;
  if (a === null) return { ...b };
  if (b.entry !== null && (a.entry === null || before(b.entry, a.entry))) a.entry = b.entry;
  if (b.exit !== null && (a.exit === null || before(a.exit, b.exit))) a.exit = b.exit;
  if (b.utm !== null && (a.utm === null || before(b.utm, a.utm))) a.utm = b.utm;
  return a;
}

/** The stored and published attribution of a session state. */
export function sessionAttribution(s: AttributionState | null): SessionAttribution {
  if (s === null) return NO_ATTRIBUTION;
  const entryUrl = s.entry?.url ?? null;
  const referrer = s.entry?.referrer ?? null;
  const referrerDomain = referrerDomainOf(entryUrl, referrer);
  const utm = s.utm?.utm ?? null;
  const key = (m: EventKey | null): EventKey | null => (m === null ? null : { ts: m.ts, eventId: m.eventId });
  return {
    entryUrl,
    exitUrl: s.exit?.url ?? null,
    referrer,
    referrerDomain,
    utmSource: utm?.source ?? null,
    utmMedium: utm?.medium ?? null,
    utmCampaign: utm?.campaign ?? null,
    utmTerm: utm?.term ?? null,
    utmContent: utm?.content ?? null,
    channelGroup: channelGroupOf(utm?.source ?? null, utm?.medium ?? null, referrerDomain),
    keys: { entry: key(s.entry), exit: key(s.exit), utm: key(s.utm) },
  };
}

/** The state of a stored session's attribution (restore, corrections). */
export function attributionStateFrom(a: SessionAttribution): AttributionState | null {
  const k = a.keys;
  if (k === null) return null;
  return {
    entry: k.entry === null || a.entryUrl === null ? null : { ...k.entry, url: a.entryUrl, referrer: a.referrer },
    exit: k.exit === null || a.exitUrl === null ? null : { ...k.exit, url: a.exitUrl },
    utm:
      k.utm === null
        ? null
        : { ...k.utm, utm: { source: a.utmSource, medium: a.utmMedium, campaign: a.utmCampaign, term: a.utmTerm, content: a.utmContent } },
  };
}

const sameKey = (a: EventKey | null, b: EventKey | null): boolean =>
  a === b || (a !== null && b !== null && a.ts === b.ts && a.eventId === b.eventId);

/** True when two sessions' attributions agree (keys included). */
export function sameAttribution(a: SessionAttribution, b: SessionAttribution): boolean {
  if (a === b) return true;
  return (
    a.entryUrl === b.entryUrl &&
    a.exitUrl === b.exitUrl &&
    a.referrer === b.referrer &&
    a.referrerDomain === b.referrerDomain &&
    a.utmSource === b.utmSource &&
    a.utmMedium === b.utmMedium &&
    a.utmCampaign === b.utmCampaign &&
    a.utmTerm === b.utmTerm &&
    a.utmContent === b.utmContent &&
    a.channelGroup === b.channelGroup &&
    sameKey(a.keys?.entry ?? null, b.keys?.entry ?? null) &&
    sameKey(a.keys?.exit ?? null, b.keys?.exit ?? null) &&
    sameKey(a.keys?.utm ?? null, b.keys?.utm ?? null)
  );
}
