/**
 * sessionClosed(after:) with a cursor Postgres cannot hold (19 digits past
 * bigint) is refused as INVALID_CURSOR, a client error rather than a masked
 * internal one, and leaves no live subscription behind on the session bus.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { INGEST } from '../helpers/events.ts';
import { collect, gqlData, wsClient } from '../helpers/graphql.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

const ENV = { SESSION_GAP: '1m', ALLOWED_LATENESS: '0s', UPDATE_INTERVAL: '0s' };

async function activeSubscriptions(server: TestServer): Promise<number> {
  const text = await (await fetch(server.url.replace(/\/graphql$/, '/metrics'))).text();
  const line = text.split('\n').find((l) => l.startsWith('sessions_subscriptions_active '));
  return Number(line?.split(' ')[1]);
}

describe('sessionClosed replay failure', () => {
  let db: TestDatabase;
  let server: TestServer;

  beforeAll(async () => {
    db = await createTestDatabase();
    server = await startTestServer(db.url, ENV);
  });
  afterAll(async () => {
    await server?.stop();
    await db?.drop();
  });

  it('a cursor past bigint is refused as INVALID_CURSOR and leaves no subscription behind', async () => {
    expect(await activeSubscriptions(server)).toBe(0);
    const client = wsClient(server.wsUrl);
    // 19 digits pass parseCloseCursor (src/graphql/subscriptions.ts:13) but overflow `$1::bigint`.
    const sub = collect(client, `subscription { sessionClosed(after: "9999999999999999999") { id } }`);
    await sub.ended;
    await client.dispose();
    await new Promise((resolve) => setTimeout(resolve, 300));

    // Closures keep being published to the orphaned reader, which nobody reads.
    const base = Date.parse('2026-02-01T00:00:00Z');
    await gqlData(server.url, INGEST, { events: [{ eventId: 'o1', userId: 'o1', name: 'x', timestamp: new Date(base).toISOString() }] });
    await gqlData(server.url, 'mutation { flushSessions { closed } }');

    const codes = (sub.errors as Array<Array<{ extensions?: { code?: string } }> | { extensions?: { code?: string } }>)
      .flat()
      .map((e) => e.extensions?.code);
    expect.soft(codes, 'a bad cursor should be a client error, not a masked internal one').toEqual(['INVALID_CURSOR']);
    // Nobody calls return() on an iterator that threw: the replay must leave the bus by itself.
    expect(await activeSubscriptions(server)).toBe(0);
  });
});
