import { NO_ATTRIBUTION, type AttributionKeys, type SessionAttribution } from '../sessionizer/attribution-state.ts';
import { CHANNEL_GROUPS, type ChannelGroup } from '../sessionizer/channel-group.ts';

/** A session as the GraphQL API shows it (times in ms since the epoch). */
export interface SessionView {
  readonly id: string;
  /** The name of the session definition that cut it. */
  readonly definition: string;
  readonly userId: string;
  readonly status: 'OPEN' | 'CLOSED';
  readonly startedAt: number;
  readonly endedAt: number;
  readonly closesAt: number;
  readonly durationSeconds: number;
  readonly eventCount: number;
  readonly eventCounts: ReadonlyArray<{ name: string; count: number }>;
  readonly channels: ReadonlyArray<{ channelId: string; count: number; firstSeenAt: number }>;
  readonly topChannel: string | null;
  readonly totalValue: number;
  readonly converted: boolean;
  readonly engaged: boolean;
  readonly bounced: boolean;
  readonly firstEventName: string;
  readonly lastEventName: string;
  readonly closeReason: 'INACTIVITY' | 'MAX_DURATION' | 'FLUSH' | null;
  readonly closedAt: number | null;
  readonly version: number;
  readonly closeCursor: string | null;
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

/** Stored shape of one entry of sessions.channels. */
export interface StoredChannel {
  channelId: string;
  count: number;
  firstAt: number;
  firstEventId: string;
}

/** Converts the stored event_counts object into the API's list (most frequent first, then by name). */
export function eventCountList(counts: unknown): Array<{ name: string; count: number }> {
  if (counts === null || typeof counts !== 'object') return [];
  return Object.entries(counts as Record<string, number>)
    .map(([name, count]) => ({ name, count }))
    .sort((a, b) => b.count - a.count || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Converts the stored channels array into the API's list (first-seen order). */
export function channelList(channels: unknown): Array<{ channelId: string; count: number; firstSeenAt: number }> {
  if (!Array.isArray(channels)) return [];
  return (channels as StoredChannel[]).map((c) => ({ channelId: c.channelId, count: c.count, firstSeenAt: c.firstAt }));
}

/** The attribution columns of sessions, as read by {@link attributionFromRow}. */
export const ATTRIBUTION_COLUMNS = `entry_url, exit_url, referrer, referrer_domain, utm_source, utm_medium,
  utm_campaign, utm_term, utm_content, channel_group, attribution_keys`;

/** A row's attribution columns. */
export interface AttributionRow {
  entry_url: string | null;
  exit_url: string | null;
  referrer: string | null;
  referrer_domain: string | null;
  utm_source: string | null;
  utm_medium: string | null;
  utm_campaign: string | null;
  utm_term: string | null;
  utm_content: string | null;
  channel_group: string | null;
  attribution_keys: AttributionKeys | null;
}

const isChannelGroup = (v: string | null): v is ChannelGroup => (CHANNEL_GROUPS as readonly (string | null)[]).includes(v);

/** A stored session's attribution; a row stored before attribution existed has none (Direct). */
export function attributionFromRow(row: AttributionRow): SessionAttribution {
  if (!isChannelGroup(row.channel_group)) return NO_ATTRIBUTION;
  return {
    entryUrl: row.entry_url,
    exitUrl: row.exit_url,
    referrer: row.referrer,
    referrerDomain: row.referrer_domain,
    utmSource: row.utm_source,
    utmMedium: row.utm_medium,
    utmCampaign: row.utm_campaign,
    utmTerm: row.utm_term,
    utmContent: row.utm_content,
    channelGroup: row.channel_group,
    keys: row.attribution_keys,
  };
}

/** The API fields of a session's attribution. */
export function attributionView(a: SessionAttribution): Pick<SessionView, 'entryUrl' | 'exitUrl' | 'referrer' | 'referrerDomain' | 'utmSource' | 'utmMedium' | 'utmCampaign' | 'utmTerm' | 'utmContent' | 'channelGroup'> {
  return {
    entryUrl: a.entryUrl,
    exitUrl: a.exitUrl,
    referrer: a.referrer,
    referrerDomain: a.referrerDomain,
    utmSource: a.utmSource,
    utmMedium: a.utmMedium,
    utmCampaign: a.utmCampaign,
    utmTerm: a.utmTerm,
    utmContent: a.utmContent,
    channelGroup: a.channelGroup,
  };
}
