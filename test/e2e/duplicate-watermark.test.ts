/**
 * Only accepted events move the stored watermark (service_state.max_event_ts):
 * a resent eventId with a later timestamp is a duplicate and changes nothing,
 * so after a restart the restored watermark does not close sessions that
 * were OPEN before it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/store/database.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { INGEST } from '../helpers/events.ts';
import { gqlData } from '../helpers/graphql.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

const ENV = { SESSION_GAP: '5m', ALLOWED_LATENESS: '30s', UPDATE_INTERVAL: '0s' };

function event(userId: string, id: string, ts: number) {
  return { eventId: id, userId, name: 'page_view', timestamp: new Date(ts).toISOString() };
}

const STATUS = `{ sessions(userId: "dup-ts", first: 5) { edges { node { status closeReason eventCount } } } }`;

describe('duplicates and the persisted watermark', () => {
  let db: TestDatabase;
  let server: TestServer | undefined;
  // On the PGlite fallback (no server) both starts must use one data folder, as a restarted service would.
  const dataDir = mkdtempSync(path.join(tmpdir(), 'duplicate-watermark-'));
  let env: Record<string, string>;

  beforeAll(async () => {
    db = await createTestDatabase();
    env = db.url === null ? { ...ENV, DATA_DIR: dataDir } : ENV;
    server = await startTestServer(db.url, env);
  });
  afterAll(async () => {
    await server?.stop();
    await db?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  /** service_state.max_event_ts, read while the service is stopped (PGlite admits one process at a time). */
  async function storedMaxEventTs(): Promise<number> {
    const database = await openDatabase({ databaseUrl: db.url, dataDir, poolSize: 1 });
    try {
      const rows = await database.prisma.$queryRawUnsafe<Array<{ m: string }>>('SELECT max_event_ts::text AS m FROM service_state WHERE id = 1');
      return Number(rows[0]?.m);
    } finally {
      await database.close();
    }
  }

  it('a duplicate eventId with a later timestamp changes nothing, across a restart too', async () => {
    const T = Date.now() - 3_600_000;
    let s = server as TestServer;
    await gqlData(s.url, INGEST, { events: [event('dup-ts', 'd1', T)] });
    // The same eventId again, re-stamped 20 minutes later: rule 3, "it changes nothing".
    const again = await gqlData(s.url, INGEST, { events: [event('dup-ts', 'd1', T + 20 * 60_000)] });
    expect(again['ingestEvents']).toMatchObject({ accepted: 0, duplicates: 1 });
    const before = (await gqlData(s.url, STATUS))['sessions'].edges.map((e: any) => e.node);
    expect(before).toEqual([{ status: 'OPEN', closeReason: null, eventCount: 1 }]);

    await s.stop();
    server = undefined;
    expect(await storedMaxEventTs(), 'persisted max_event_ts vs the only accepted event').toBe(T);
    server = s = await startTestServer(db.url, env);
    // Any commit (here an unrelated user's event) saves what restore did to the OPEN sessions.
    await gqlData(s.url, INGEST, { events: [event('other', 'o1', T)] });
    const after = (await gqlData(s.url, STATUS))['sessions'].edges.map((e: any) => e.node);
    // Only accepted events move the stored watermark: a duplicate re-stamped 20 minutes later must
    // not make the restored watermark (T + 19m30s) close the session (closesAt T + 5m).
    expect(after).toEqual([{ status: 'OPEN', closeReason: null, eventCount: 1 }]);
  });
});
