/**
 * sessionClosed delivers the closures of one commit in closeCursor order
 * (cursors are drawn in the order the closures are announced, whether the
 * session is stored by an UPDATE or an INSERT), so a client that resumes with
 * the cursor of the last closure it received gets every closure after it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { INGEST } from '../helpers/events.ts';
import { collect, gqlData, wsClient } from '../helpers/graphql.ts';
import { subscriptionsReach } from '../helpers/metrics.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

const ENV = { SESSION_GAP: '1m', ALLOWED_LATENESS: '30s', UPDATE_INTERVAL: '0s' };

function event(userId: string, id: string, ts: number) {
  return { eventId: id, userId, name: 'page_view', timestamp: new Date(ts).toISOString() };
}

const CLOSED = (after: string | null) =>
  `subscription { sessionClosed${after === null ? '' : `(after: "${after}")`} { id userId closeReason closeCursor } }`;

describe('closeCursor order of the closures of one commit', () => {
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

  it('live closures arrive in closeCursor order, so resuming from the last one received misses nothing', async () => {
    const client = wsClient(server.wsUrl);
    const live = collect(client, CLOSED(null));
    await subscriptionsReach(server.service, 1);

    const T = Date.parse('2026-01-05T12:00:00Z');
    // Y: a stored OPEN session (closesAt T + 1m).
    await gqlData(server.url, INGEST, { events: [event('y', 'y1', T)] });
    // One mutation: X opens a NEW session (closesAt T + 50s, not late: within ALLOWED_LATENESS),
    // then Z moves the watermark to T + 90s, which closes X (new row -> INSERT) and Y (stored -> UPDATE).
    await gqlData(server.url, INGEST, { events: [event('x', 'x1', T - 10_000), event('z', 'z1', T + 120_000)] });

    const got = (await live.waitFor(2)) as Array<{ userId: string; closeCursor: string }>;
    await client.dispose();
    expect(got.map((s) => s.userId).sort()).toEqual(['x', 'y']);
    const cursors = got.map((s) => BigInt(s.closeCursor));
    // The UPDATE of stored Y runs before the INSERT of new X, but cursors are drawn in the
    // order the closures are announced (X first), so they arrive ascending.
    expect(cursors[0]! < cursors[1]!, `delivered cursors ${cursors.join(", ")}`).toBe(true);

    // A client that got the first message and then lost its connection resumes with that
    // cursor: the replay starts with the second closure (nothing before it again).
    const resumedClient = wsClient(server.wsUrl);
    const resumed = collect(resumedClient, CLOSED(got[0]!.closeCursor));
    const replayed = (await resumed.waitFor(1)) as Array<{ userId: string; closeCursor: string }>;
    await resumedClient.dispose();
    expect(replayed.map((s) => [s.userId, s.closeCursor])).toEqual([[got[1]!.userId, got[1]!.closeCursor]]);
  });
});
