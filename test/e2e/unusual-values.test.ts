/**
 * Unusual but valid input that once gave a wrong stored session or a
 * session the API could not serve (found in review, since fixed): a channel
 * named "__proto__" through replay and restart, and values whose sums could
 * overflow.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { INGEST, SESSION_FIELDS } from '../helpers/events.ts';
import { collect, gql, gqlData, wsClient } from '../helpers/graphql.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

const ENV = { SESSION_GAP: '30m', ALLOWED_LATENESS: '30s', UPDATE_INTERVAL: '0s' };

function event(userId: string, id: string, ts: number, extra: Record<string, unknown> = {}) {
  return { eventId: id, userId, name: 'page_view', timestamp: new Date(ts).toISOString(), ...extra };
}

const byUser = (user: string) =>
  `{ sessions(userId: "${user}", first: 10) { edges { node { ${SESSION_FIELDS} } } } }`;

describe('session rows for unusual but valid input', () => {
  let db: TestDatabase;
  let server: TestServer | undefined;

  beforeAll(async () => {
    db = await createTestDatabase();
    server = await startTestServer(db.url, ENV);
  });
  afterAll(async () => {
    await server?.stop();
    await db?.drop();
  });

  it('sessionClosed replay (after:) keeps a channel named "__proto__"', async () => {
    const s = server as TestServer;
    const t0 = Date.parse('2026-01-10T10:00:00Z');
    await gqlData(s.url, INGEST, { events: [event('proto-replay', 'pr1', t0, { channelId: '__proto__' })] });
    await gqlData(s.url, 'mutation { flushSessions { closed } }');
    const stored = (await gqlData(s.url, byUser('proto-replay')))['sessions'].edges[0].node;
    // The query path reads the JSON array directly: correct.
    expect(stored.channels).toEqual([{ channelId: '__proto__', count: 1, firstSeenAt: new Date(t0).toISOString() }]);

    const client = wsClient(s.wsUrl);
    const replay = collect(client, `subscription { sessionClosed(userId: "proto-replay", after: "0") { id topChannel channels { channelId count } } }`);
    const [replayed] = (await replay.waitFor(1)) as Array<Record<string, any>>;
    await client.dispose();
    expect(replayed!.topChannel).toBe('__proto__');
    // Rows read back build the channel map with own keys: "__proto__" must not become the prototype.
    expect(replayed!.channels).toEqual([{ channelId: '__proto__', count: 1 }]);
  });

  it('a restart keeps counting a channel named "__proto__" of an OPEN session', async () => {
    const t0 = Date.now() - 60_000;
    await gqlData((server as TestServer).url, INGEST, { events: [event('proto-restart', 'p1', t0, { channelId: '__proto__' })] });
    await (server as TestServer).stop();
    server = await startTestServer(db.url, ENV);
    await gqlData(server.url, INGEST, { events: [event('proto-restart', 'p2', t0 + 1_000, { channelId: '__proto__' })] });
    const node = (await gqlData(server.url, byUser('proto-restart')))['sessions'].edges[0].node;
    expect(node.eventCount).toBe(2);
    expect(node.topChannel).toBe('__proto__');
    // Restored OPEN sessions keep the channel, so the next event counts on from it.
    expect(node.channels).toEqual([{ channelId: '__proto__', count: 2, firstSeenAt: new Date(t0).toISOString() }]);
  });

  it('refuses values whose sums could overflow, and keeps the rest of the batch readable', async () => {
    const s = server as TestServer;
    const t0 = Date.now() - 60_000;
    const r = await gqlData(s.url, INGEST, {
      events: [
        event('big-value', 'bv1', t0, { value: 1e308 }),
        event('big-value', 'bv2', t0 + 1, { value: -1e16 }),
        event('big-value', 'bv3', t0 + 2, { value: 1e15 }),
        event('big-value', 'bv4', t0 + 3, { value: 1e15 }),
      ],
    });
    expect(r['ingestEvents']).toMatchObject({ accepted: 2 });
    expect(r['ingestEvents'].rejected.map((x: { index: number; code: string }) => [x.index, x.code])).toEqual([
      [0, 'VALUE_OUT_OF_RANGE'],
      [1, 'VALUE_OUT_OF_RANGE'],
    ]);
    const page = await gql(s.url, byUser('big-value'));
    expect(page.errors).toBeUndefined();
  });
});
