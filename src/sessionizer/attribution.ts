/**
 * Attribution inputs of one event (DESIGN.md "Session fields"): where the
 * visitor was (url), where they came from (referrer) and the campaign (utm).
 * Extracted once, at validation and when stored events are read back, by
 * {@link attributionOf}; the session keeps the entry, exit and utm events'
 * values (attribution-state.ts).
 */

/** The five utm parameters, each null when absent. */
export interface Utm {
  readonly source: string | null;
  readonly medium: string | null;
  readonly campaign: string | null;
  readonly term: string | null;
  readonly content: string | null;
}

/** What one event says about attribution; an event that says nothing has none (null). */
export interface EventAttribution {
  readonly url: string | null;
  readonly referrer: string | null;
  /** Explicit utm properties, else the url's query; null when neither has any. */
  readonly utm: Utm | null;
}

/**
 * The properties (paths from the properties object) that attribution reads,
 * in one place: the event store reads back only these (event-store.ts).
 * `context.page` and `context.campaign` are where the Segment endpoints put
 * Segment's context (src/server/segment/).
 */
export const ATTRIBUTION_PATHS: readonly (readonly string[])[] = [
  ['url'],
  ['referrer'],
  ['utm_source'],
  ['utm_medium'],
  ['utm_campaign'],
  ['utm_term'],
  ['utm_content'],
  ['context', 'page', 'url'],
  ['context', 'page', 'referrer'],
  ['context', 'campaign', 'source'],
  ['context', 'campaign', 'medium'],
  ['context', 'campaign', 'name'],
  ['context', 'campaign', 'term'],
  ['context', 'campaign', 'content'],
];

type Json = Readonly<Record<string, unknown>>;

function objectAt(value: unknown, key: string): Json | null {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return null;
  const child = Object.prototype.hasOwnProperty.call(value, key) ? (value as Json)[key] : undefined;
  return child !== null && typeof child === 'object' && !Array.isArray(child) ? (child as Json) : null;
}

/** A non-blank string property, else null (numbers, objects and blanks say nothing). */
function textAt(obj: Json | null, key: string): string | null {
  if (obj === null || !Object.prototype.hasOwnProperty.call(obj, key)) return null;
  const v = obj[key];
  return typeof v === 'string' && v.trim() !== '' ? v : null;
}

/**
 * The attribution of an event from its properties: `url`, `referrer` and
 * `utm_source` ... `utm_content`, each falling back to Segment's
 * `context.page.url`, `context.page.referrer` and `context.campaign.source`,
 * `.medium`, `.name`, `.term`, `.content`. When no utm value is explicit,
 * the url's query (`?utm_source=...`) gives them. Null when nothing is found.
 */
export function attributionOf(properties: unknown): EventAttribution | null {
  if (properties === null || typeof properties !== 'object' || Array.isArray(properties)) return null;
  const p = properties as Json;
  const context = objectAt(p, 'context');
  const page = objectAt(context, 'page');
  const campaign = objectAt(context, 'campaign');
  const url = textAt(p, 'url') ?? textAt(page, 'url');
  const referrer = textAt(p, 'referrer') ?? textAt(page, 'referrer');
  const explicit = utmOrNull({
    source: textAt(p, 'utm_source') ?? textAt(campaign, 'source'),
    medium: textAt(p, 'utm_medium') ?? textAt(campaign, 'medium'),
    campaign: textAt(p, 'utm_campaign') ?? textAt(campaign, 'name'),
    term: textAt(p, 'utm_term') ?? textAt(campaign, 'term'),
    content: textAt(p, 'utm_content') ?? textAt(campaign, 'content'),
  });
  const utm = explicit ?? (url === null ? null : utmOfUrl(url));
  if (url === null && referrer === null && utm === null) return null;
  return { url, referrer, utm };
}

function utmOrNull(u: Utm): Utm | null {
  return u.source === null && u.medium === null && u.campaign === null && u.term === null && u.content === null ? null : u;
}

/** Base for relative urls ("/pricing?utm_source=x"): only their query is read. */
const RELATIVE_BASE = 'http://relative.invalid/';

/** The utm parameters of a url's query, or null. */
function utmOfUrl(url: string): Utm | null {
  if (!url.includes('utm_')) return null;
  let query: URLSearchParams;
  try {
    query = new URL(url, RELATIVE_BASE).searchParams;
  } catch {
    return null;
  }
  const get = (key: string): string | null => {
    const v = query.get(key);
    return v === null || v.trim() === '' ? null : v;
  };
  return utmOrNull({
    source: get('utm_source'),
    medium: get('utm_medium'),
    campaign: get('utm_campaign'),
    term: get('utm_term'),
    content: get('utm_content'),
  });
}

/** A value without a scheme that starts like a dotted host name ("google.com/x"). */
const BARE_HOST = /^[a-z0-9-]+(\.[a-z0-9-]+)+(?=$|[/?#:])/i;

/**
 * The host name of an absolute url (lowercase, as WHATWG URL parsing gives
 * it); a value without a scheme that starts with a dotted host name
 * ("google.com/x") is read as https. Null when there is no host (markers
 * such as "$direct" included).
 */
export function hostOf(url: string): string | null {
  const candidate = url.includes('://') ? url : BARE_HOST.test(url) ? `https://${url}` : null;
  if (candidate === null) return null;
  try {
    const host = new URL(candidate).hostname;
    return host === '' ? null : host;
  } catch {
    return null;
  }
}

/** The referrer's host, or null when there is none or it is the entry url's own host (an internal link). */
export function referrerDomainOf(entryUrl: string | null, referrer: string | null): string | null {
  if (referrer === null) return null;
  const host = hostOf(referrer);
  if (host === null) return null;
  if (entryUrl !== null && /^[a-z][a-z0-9+.-]*:\/\//i.test(entryUrl) && hostOf(entryUrl) === host) return null;
  return host;
}
