import pg from 'pg';
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

/**
 * Sessions whose stored prev_started_at is not the start of the user's
 * previous session in the same build, computed here from the stored starts
 * (empty when every row is right). Reads the table over a plain connection.
 */
export async function prevStartMismatches(databaseUrl: string): Promise<Array<{ id: string; stored: number | null; expected: number | null }>> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ id: string; key: string; started: string; prev: string | null }>(
      `SELECT id::text, definition || '/' || user_id AS key, (extract(epoch FROM started_at) * 1000)::bigint::text AS started,
         (extract(epoch FROM prev_started_at) * 1000)::bigint::text AS prev
       FROM sessions`,
    );
    const byKey = new Map<string, typeof rows>();
    for (const r of rows) byKey.set(r.key, [...(byKey.get(r.key) ?? []), r]);
    const out: Array<{ id: string; stored: number | null; expected: number | null }> = [];
    for (const list of byKey.values()) {
      list.sort((a, b) => Number(a.started) - Number(b.started));
      list.forEach((r, i) => {
        const expected = i === 0 ? null : Number((list[i - 1] as (typeof list)[number]).started);
        const stored = r.prev === null ? null : Number(r.prev);
        if (stored !== expected) out.push({ id: r.id, stored, expected });
      });
    }
    return out;
  } finally {
    await client.end();
  }
}

/**
 * session_facts as stored, and as it should be: one row per CLOSED session
 * with its values, built here from the sessions rows. Both sorted by id.
 */
export async function sessionFacts(databaseUrl: string): Promise<{ stored: unknown[]; expected: unknown[] }> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const columns = `id::text, definition, user_id, started_at::text, prev_started_at::text, duration_seconds, event_count, total_value,
      converted, engaged, bounced, top_channel`;
    const facts = await client.query(`SELECT ${columns}, channel_ids, channel_counts FROM session_facts ORDER BY id`);
    const closed = await client.query(`SELECT ${columns}, channels FROM sessions WHERE status = 'CLOSED' ORDER BY id`);
    const expected = closed.rows.map(({ channels, ...row }: { channels: Array<{ channelId: string; count: number }> }) => ({
      ...row,
      channel_ids: channels.map((c) => c.channelId),
      channel_counts: channels.map((c) => c.count),
    }));
    return { stored: facts.rows, expected };
  } finally {
    await client.end();
  }
}
