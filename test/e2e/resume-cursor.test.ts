/**
 * sessionClosed(after:) with a cursor Postgres cannot hold (19 digits past
 * bigint) is refused as INVALID_CURSOR, a client error rather than a masked
 * internal one, and leaves no live subscription behind on the session bus.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { collect, wsClient } from '../helpers/graphql.ts';
import { readMetrics, subscriptionsReach } from '../helpers/metrics.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

const ENV = { SESSION_GAP: '1m', ALLOWED_LATENESS: '0s', UPDATE_INTERVAL: '0s' };

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

  const activeSubscriptions = async (): Promise<number | undefined> => (await readMetrics(server.service)).get('sessions_subscriptions_active');

  it('a cursor past bigint is refused as INVALID_CURSOR and leaves no subscription behind', async () => {
    expect(await activeSubscriptions()).toBe(0);
    const client = wsClient(server.wsUrl);
    const sub = collect(client, `subscription { sessionClosed(after: "9999999999999999999") { id } }`);
    await sub.ended;
    await client.dispose();
    const codes = (sub.errors as Array<Array<{ extensions?: { code?: string } }> | { extensions?: { code?: string } }>)
      .flat()
      .map((e) => e.extensions?.code);
    expect(codes, 'a bad cursor is a client error, not a masked internal one').toEqual(['INVALID_CURSOR']);
    // Nothing is left on the bus (an orphaned reader would keep the gauge at 1 for good).
    await subscriptionsReach(server.service, 0);
  });
});
