/** A session as the GraphQL API shows it (times in ms since the epoch). */
export interface SessionView {
  readonly id: string;
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
