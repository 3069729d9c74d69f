import { gqlData } from './graphql.ts';
import { SESSION_FIELDS } from './events.ts';
import type { RefSession } from './reference.ts';

/** Every stored session (of one definition, `default` unless given), paging through `sessions` (newest first) with cursors. */
export async function allSessions(url: string, headers: Record<string, string> = {}, definition = 'default'): Promise<Array<Record<string, any>>> {
  const out: Array<Record<string, any>> = [];
  let after: string | null = null;
  for (;;) {
    const data: any = await gqlData(
      url,
      `query Page($after: String, $definition: String) { sessions(definition: $definition, first: 500, after: $after) { edges { cursor node { ${SESSION_FIELDS} } } pageInfo { hasNextPage endCursor } } }`,
      { after, definition },
      headers,
    );
    for (const edge of data.sessions.edges) out.push(edge.node);
    if (!data.sessions.pageInfo.hasNextPage) return out;
    after = data.sessions.pageInfo.endCursor;
  }
}

/** The fields of a stored session that the reference also computes, in a comparable shape. */
export function comparable(s: Record<string, any>): RefSession {
  const eventCounts: Record<string, number> = {};
  for (const { name, count } of s['eventCounts'] as Array<{ name: string; count: number }>) eventCounts[name] = count;
  return {
    userId: s['userId'],
    startedAt: Date.parse(s['startedAt']),
    endedAt: Date.parse(s['endedAt']),
    eventCount: s['eventCount'],
    eventCounts,
    topChannel: s['topChannel'],
    totalValue: s['totalValue'],
    converted: s['converted'],
    engaged: s['engaged'],
    bounced: s['bounced'],
    firstEventName: s['firstEventName'],
    lastEventName: s['lastEventName'],
    durationSeconds: s['durationSeconds'],
  };
}

/** Sorts like referenceSessions: by user, then start. */
export function sortSessions<T extends { userId: string; startedAt: number }>(sessions: T[]): T[] {
  return [...sessions].sort((a, b) => (a.userId < b.userId ? -1 : a.userId > b.userId ? 1 : a.startedAt - b.startedAt));
}

/** Rounds float sums so that addition order does not matter. */
export function roundValues(sessions: RefSession[]): RefSession[] {
  return sessions.map((s) => ({ ...s, totalValue: Math.round(s.totalValue * 100) / 100 }));
}
