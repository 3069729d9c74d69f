/**
 * A session's default channel group, after GA4's "session default channel
 * group": the rule table is docs/attribution.md; keep the two in step.
 */

/** The channel groups, as the API shows them. */
export const CHANNEL_GROUPS = [
  'Direct',
  'Organic Search',
  'Paid Search',
  'Organic Social',
  'Paid Social',
  'Email',
  'Affiliates',
  'Display',
  'Referral',
  'Other',
] as const;
export type ChannelGroup = (typeof CHANNEL_GROUPS)[number];

/** Search engines: a source matches a name when it is the name or one of its labels but the last is (google.co.uk, www.bing.com). */
export const SEARCH_SOURCES: readonly string[] = [
  'google', 'bing', 'yahoo', 'duckduckgo', 'baidu', 'yandex', 'ecosia', 'naver', 'ask', 'aol',
  'startpage', 'qwant', 'seznam', 'sogou', 'brave', 'search.brave.com', 'kagi',
];

/** Social networks: names as for SEARCH_SOURCES; names with a dot match that domain and its subdomains. */
export const SOCIAL_SOURCES: readonly string[] = [
  'facebook', 'fb', 'instagram', 'linkedin', 'twitter', 'pinterest', 'reddit', 'tiktok', 'youtube',
  'snapchat', 'tumblr', 'quora', 'vk', 'weibo', 'whatsapp', 'telegram', 'discord', 'mastodon',
  't.co', 'x.com', 'lnkd.in', 'threads.net', 'bsky.app', 'news.ycombinator.com',
];

/** GA4's paid media: medium matching ^(.*cp.*|ppc|retargeting|paid.*)$. */
const PAID_MEDIUM = /^(.*cp.*|ppc|retargeting|paid.*)$/;
const DISPLAY_MEDIA = new Set(['display', 'banner', 'expandable', 'interstitial', 'cpm']);
const SOCIAL_MEDIA = new Set(['social', 'social-network', 'social-media', 'sm', 'social network', 'social media']);
const EMAIL = /email|e-mail|e_mail|e mail/;
const REFERRAL_MEDIA = new Set(['referral', 'app', 'link']);

/** True when `source` (a name or a host) is one of `names` (see SEARCH_SOURCES). */
export function sourceIn(source: string, names: readonly string[]): boolean {
  const labels = source.split('.');
  const inner = labels.length === 1 ? labels : labels.slice(0, -1);
  for (const name of names) {
    if (name.includes('.')) {
      if (source === name || source.endsWith(`.${name}`)) return true;
    } else if (inner.includes(name)) {
      return true;
    }
  }
  return false;
}

/**
 * The channel group of a session from its utm source and medium and its
 * referrer domain (already null for internal referrers). Without utm_source
 * and utm_medium, the referrer stands for the source (medium "organic" for a
 * search engine, else "referral"), as GA4 does; with neither it is Direct.
 */
export function channelGroupOf(utmSource: string | null, utmMedium: string | null, referrerDomain: string | null): ChannelGroup {
  let source: string;
  let medium: string;
  if (utmSource !== null || utmMedium !== null) {
    source = (utmSource ?? '').trim().toLowerCase();
    medium = (utmMedium ?? '').trim().toLowerCase();
  } else if (referrerDomain !== null) {
    source = referrerDomain.toLowerCase();
    medium = sourceIn(source, SEARCH_SOURCES) ? 'organic' : 'referral';
  } else {
    return 'Direct';
  }
  if (source === '(direct)' && (medium === '' || medium === '(none)' || medium === '(not set)')) return 'Direct';
  const search = source !== '' && sourceIn(source, SEARCH_SOURCES);
  const social = source !== '' && sourceIn(source, SOCIAL_SOURCES);
  const paid = PAID_MEDIUM.test(medium);
  if (search && paid) return 'Paid Search';
  if (social && paid) return 'Paid Social';
  if (DISPLAY_MEDIA.has(medium)) return 'Display';
  if (paid) return 'Other';
  if (social || SOCIAL_MEDIA.has(medium)) return 'Organic Social';
  if (search || medium === 'organic') return 'Organic Search';
  if (EMAIL.test(source) || EMAIL.test(medium)) return 'Email';
  if (medium === 'affiliate') return 'Affiliates';
  if (REFERRAL_MEDIA.has(medium)) return 'Referral';
  return 'Other';
}
