import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { INGEST, SESSION_FIELDS } from '../helpers/events.ts';
import { collect, gqlData, wsClient } from '../helpers/graphql.ts';
import { subscriptionsReach, waitForMetric } from '../helpers/metrics.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

const GAP_MS = 1_000;
const ENV = { SESSION_GAP: '1s', ALLOWED_LATENESS: '0s', UPDATE_INTERVAL: '1s', WS_MAX_BUFFERED_BYTES: '65536', WS_SEND_TIMEOUT: '500ms' };

const started = (user: string) => `subscription { sessionStarted(userId: "${user}") { ${SESSION_FIELDS} } }`;
const updated = (user: string) => `subscription { sessionUpdated(userId: "${user}") { ${SESSION_FIELDS} } }`;
const closed = (user: string | null, after: string | null = null) => {
  const args = [user === null ? '' : `userId: "${user}"`, after === null ? '' : `after: "${after}"`].filter(Boolean);
  return `subscription { sessionClosed${args.length ? `(${args.join(', ')})` : ''} { id userId eventCount closeReason closeCursor version closedAt } }`;
};

/**
 * Waits until the server holds exactly `n` live subscriptions: the new ones
 * are registered, and those of the test before have ended (at least `n`
 * could count one of those and publish before a new one listens).
 */
function subscribed(server: TestServer, n: number): Promise<number> {
  return subscriptionsReach(server.service, n);
}

function event(userId: string, id: string, ts: number, extra: Record<string, unknown> = {}) {
  return { eventId: id, userId, name: 'page_view', timestamp: new Date(ts).toISOString(), ...extra };
}

// In order: the replay test listens to every user's closures, and the stall test, last, leaves
// 8,000 sessions that close on their quiet timers for a while after it.
describe('live sessions over graphql-ws', { shuffle: false }, () => {
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

  it('pushes start, update and the quiet-user close in order, filtered by userId', async () => {
    const client = wsClient(server.wsUrl);
    const s = collect(client, started('alice'));
    const u = collect(client, updated('alice'));
    const c = collect(client, closed('alice'));
    const other = collect(client, started('bob'));
    await subscribed(server, 4);

    const t0 = Date.now();
    await gqlData(server.url, INGEST, { events: [event('alice', 'a1', t0, { channelId: 'web' })] });
    const first = (await s.waitFor(1))[0] as Record<string, any>;
    expect(first).toMatchObject({ userId: 'alice', status: 'OPEN', eventCount: 1, version: 1, bounced: true });

    const lastEventSentAt = Date.now();
    await gqlData(server.url, INGEST, { events: [event('alice', 'a2', t0 + 100, { name: 'purchase', value: 12.5 })] });
    const update = (await u.waitFor(1))[0];
    expect(update).toMatchObject({ id: first.id, eventCount: 2, version: 2, converted: true, totalValue: 12.5 });

    // No event for GAP + ALLOWED_LATENESS of wall clock: the session closes on its own, not before.
    const closure = (await c.waitFor(1, 30_000))[0] as Record<string, any>;
    expect(closure).toMatchObject({ id: first.id, eventCount: 2, closeReason: 'INACTIVITY', version: 3 });
    expect(closure.closeCursor).toMatch(/^\d+$/);
    expect(Date.parse(closure.closedAt)).toBeGreaterThanOrEqual(lastEventSentAt + GAP_MS);
    expect(other.items).toEqual([]);
    await client.dispose();
  });

  it('coalesces a burst of updates to the latest state, and announces corrections to closed sessions', async () => {
    const client = wsClient(server.wsUrl);
    const u = collect(client, updated('carol'));
    const c = collect(client, closed('carol'));
    await subscribed(server, 2);
    const t0 = Date.now();
    await gqlData(server.url, INGEST, { events: [event('carol', 'c0', t0)] });
    for (let i = 1; i <= 10; i++) await gqlData(server.url, INGEST, { events: [event('carol', `c${i}`, t0 + i)] });
    const closure = (await c.waitFor(1, 30_000))[0] as Record<string, any>;
    const span = Date.now() - t0;
    expect(closure.eventCount).toBe(11);
    // Ten changes: at most one update per UPDATE_INTERVAL (1 s) of the time they took to close, the rest coalesced
    // (on a quiet machine the ten commits fit in one interval: one or two updates).
    expect(u.items.length).toBeLessThanOrEqual(Math.floor(span / 1_000) + 1);
    expect(u.items.length).toBeGreaterThanOrEqual(1);
    for (const item of u.items as Array<{ eventCount: number }>) expect(item.eventCount).toBeGreaterThan(1);

    // A late event for the closed session: corrected, saved with a higher version, announced as updated.
    const before = u.items.length;
    await gqlData(server.url, INGEST, { events: [event('carol', 'c-late', t0 + 5)] });
    await u.waitFor(before + 1, 30_000);
    const correction = u.items[before] as { id: string; status: string; eventCount: number; version: number };
    expect(correction).toMatchObject({ id: closure.id, status: 'CLOSED', eventCount: 12 });
    expect(correction.version).toBe(closure.version + 1);
    await client.dispose();
  });

  it('replays exactly the closures missed while disconnected, then continues live', async () => {
    const first = wsClient(server.wsUrl);
    const live = collect(first, closed(null));
    await subscribed(server, 1);
    const base = Date.parse('2026-02-01T00:00:00Z');
    await gqlData(server.url, INGEST, { events: [event('r1', 'r1', base), event('r2', 'r2', base)] });
    await gqlData(server.url, 'mutation { flushSessions(before: "2026-02-02T00:00:00Z") { closed } }');
    const seen = await live.waitFor(2);
    const cursor = (seen[1] as { closeCursor: string }).closeCursor;
    await first.dispose();

    // While nobody listens: three more closures.
    await gqlData(server.url, INGEST, { events: ['m1', 'm2', 'm3'].map((u) => event(u, u, base)) });
    await gqlData(server.url, 'mutation { flushSessions(before: "2026-02-02T00:00:00Z") { closed } }');

    const second = wsClient(server.wsUrl);
    const resumed = collect(second, closed(null, cursor));
    const replayed = await resumed.waitFor(3);
    expect((replayed as Array<{ userId: string }>).map((s) => s.userId).sort()).toEqual(['m1', 'm2', 'm3']);
    // then live
    await gqlData(server.url, INGEST, { events: [event('after', 'after', base)] });
    await gqlData(server.url, 'mutation { flushSessions(before: "2026-02-02T00:00:00Z") { closed } }');
    await resumed.waitFor(4);
    expect((resumed.items[3] as { userId: string }).userId).toBe('after');
    const cursors = (resumed.items as Array<{ closeCursor: string }>).map((s) => BigInt(s.closeCursor));
    expect([...cursors].sort((a, b) => (a < b ? -1 : 1))).toEqual(cursors);
    expect(cursors.every((x) => x > BigInt(cursor))).toBe(true);
    await second.dispose();
  });

  it('cuts off a client that stops reading while others keep receiving', async () => {
    const healthy = wsClient(server.wsUrl);
    const received = collect(healthy, `subscription { sessionStarted { id } }`);

    // A raw graphql-ws client that subscribes and then stops reading its socket.
    const raw = new WebSocket(server.wsUrl, 'graphql-transport-ws');
    const closedWith = new Promise<number>((resolve) => raw.on('close', (code) => resolve(code)));
    await new Promise<void>((resolve) => raw.on('open', () => resolve()));
    raw.send(JSON.stringify({ type: 'connection_init', payload: {} }));
    await new Promise<void>((resolve) => raw.once('message', () => resolve()));
    // Two subscriptions: over 10 MB for it in all, well past what the kernel buffers for a socket that is not read (about 4 MB here).
    for (const id of ['1', '2']) {
      raw.send(JSON.stringify({ id, type: 'subscribe', payload: { query: `subscription { sessionStarted { ${SESSION_FIELDS} } }` } }));
    }
    await subscribed(server, 3);
    (raw as unknown as { _socket: { pause(): void } })._socket.pause();

    // Now, after every event of the tests before: in order, not late (late events take the correction path).
    const base = Date.now();
    const total = 8_000;
    const ingest = (async () => {
      for (let b = 0; b < total; b += 1_000) {
        const events = Array.from({ length: 1_000 }, (_, i) =>
          event(`stall-${b + i}`, `stall-${b + i}`, base, { properties: { pad: 'x'.repeat(200) } }),
        );
        await gqlData(server.url, INGEST, { events });
      }
    })();
    // Once the server has cut it off (what it had not sent is counted as dropped), the client reads again
    // and finds the close frame behind what was buffered (resumed later, the server would give up on the
    // close handshake and the code would be lost).
    await waitForMetric(server.service, 'sessions_ws_messages_dropped_total', (dropped) => dropped >= 1, 90_000);
    (raw as unknown as { _socket: { resume(): void } })._socket.resume();
    expect(await closedWith).toBe(1013);
    await ingest;
    await received.waitFor(total, 90_000);
    expect(received.items.length).toBe(total);
    await healthy.dispose();
  }, 150_000);
});

// In order: the watermark is global, and the merge test moves it ten hours past May 1, after
// which the first test's April events would be late (closed at once, nothing left to flush).
describe('large commits and merges over graphql-ws', { shuffle: false }, () => {
  let db: TestDatabase;
  let server: TestServer;
  const flush = (before: string) => gqlData(server.url, `mutation { flushSessions(before: "${before}") { closed } }`);

  beforeAll(async () => {
    db = await createTestDatabase();
    // The burst below fills the sockets: sends must wait for them to drain, and nobody is cut off.
    server = await startTestServer(db.url, { SESSION_GAP: '30m', ALLOWED_LATENESS: '0s', WS_MAX_BUFFERED_BYTES: '65536', WS_SEND_TIMEOUT: '2s' });
  });
  afterAll(async () => {
    await server?.stop();
    await db?.drop();
  });

  it('delivers every start of one mutation and every closure of one flush, more than the old queue bound of 1,000', async () => {
    const client = wsClient(server.wsUrl);
    const starts = collect(client, `subscription { sessionStarted { id userId } }`);
    const closures = collect(client, `subscription { sessionClosed { ${SESSION_FIELDS} } }`);
    await subscribed(server, 2);
    const total = 3_000;
    const base = Date.parse('2026-04-01T00:00:00Z');
    const events = Array.from({ length: total }, (_, i) => event(`big-${i}`, `big-${i}`, base + i, { channelId: 'web' }));
    await gqlData(server.url, INGEST, { events });
    expect((await flush('2026-04-02T00:00:00Z'))['flushSessions'].closed).toBe(total);

    await starts.waitFor(total, 30_000);
    await closures.waitFor(total, 30_000);
    expect(starts.errors).toEqual([]);
    expect(closures.errors).toEqual([]);
    const closed = closures.items as Array<{ userId: string; closeReason: string; eventCount: number }>;
    expect(new Set(closed.map((s) => s.userId)).size).toBe(total);
    expect(closed.every((s) => s.closeReason === 'FLUSH' && s.eventCount === 1)).toBe(true);
    await client.dispose();
  });

  it('announces a session merged away by a late event, with the surviving session', async () => {
    const client = wsClient(server.wsUrl);
    const mergedFields = `mergedId userId into { id userId status startedAt endedAt eventCount version closeReason }`;
    const starts = collect(client, started('merge-user'));
    const merges = collect(client, `subscription { sessionMerged(userId: "merge-user") { ${mergedFields} } }`);
    const allMerges = collect(client, `subscription { sessionMerged { ${mergedFields} } }`);
    const otherMerges = collect(client, `subscription { sessionMerged(userId: "someone-else") { mergedId } }`);
    const updates = collect(client, updated('merge-user'));
    await subscribed(server, 5);

    // Two sessions 45 minutes apart (GAP 30m), closed by a watermark ten hours later.
    const t0 = Date.parse('2026-05-01T00:00:00Z');
    const minute = 60_000;
    await gqlData(server.url, INGEST, { events: [event('merge-user', 'mu-1', t0), event('merge-user', 'mu-2', t0 + 45 * minute)] });
    const [first, second] = (await starts.waitFor(2)) as Array<{ id: string; startedAt: string; version: number }>;
    expect(first?.startedAt).toBe(new Date(t0).toISOString());
    await gqlData(server.url, INGEST, { events: [event('merge-watermark', 'mw-1', t0 + 600 * minute)] });
    const stored = await gqlData(server.url, `{ sessions(userId: "merge-user") { nodes { id status version } } }`);
    expect(stored['sessions'].nodes.map((s: { status: string }) => s.status)).toEqual(['CLOSED', 'CLOSED']);
    // As stored before the late event (the version goes up by one on every change, DESIGN).
    const closedFirst = stored['sessions'].nodes.find((s: { id: string }) => s.id === first?.id) as { version: number };

    // A late event 22 minutes after the first and 23 before the second bridges them.
    await gqlData(server.url, INGEST, { events: [event('merge-user', 'mu-late', t0 + 22 * minute)] });
    const [merge] = (await merges.waitFor(1)) as Array<Record<string, any>>;
    expect(merge).toEqual({
      mergedId: second?.id,
      userId: 'merge-user',
      into: {
        id: first?.id,
        userId: 'merge-user',
        status: 'CLOSED',
        startedAt: new Date(t0).toISOString(),
        endedAt: new Date(t0 + 45 * minute).toISOString(),
        eventCount: 3,
        // One change more: the late event and the merge, committed together.
        version: closedFirst.version + 1,
        closeReason: 'INACTIVITY',
      },
    });
    expect(await allMerges.waitFor(1)).toEqual([merge]);
    // The survivor also comes as an update; the merged id is gone from the store.
    const latest = (await updates.waitFor(1)).at(-1) as { id: string; eventCount: number };
    expect(latest).toMatchObject({ id: first?.id, eventCount: 3 });
    expect((await gqlData(server.url, `{ session(id: "${second?.id}") { id } }`))['session']).toBeNull();
    expect(otherMerges.items).toEqual([]);
    await client.dispose();
  });
});
