// The per-process limits of issue 12 against the real server: the replay cap
// of sessionClosed(after:), WS_MAX_CONNECTIONS, the HTTP timeouts and
// keep-alive limits, and a fault injected into the sessionizer path
// (TEST_FAULT_EVENT_ID) that fails only its mutation.

import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { INGEST, SESSION_FIELDS } from '../helpers/events.ts';
import { collect, gql, gqlData, wsClient } from '../helpers/graphql.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

const T0 = Date.now() - 3_600_000;

function event(userId: string, eventId: string, ts = T0) {
  return { eventId, userId, name: 'page_view', timestamp: new Date(ts).toISOString() };
}

/** Resolves when `check` holds, or fails after the deadline. */
async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** A counter or gauge of GET /metrics (0 when absent). */
async function metric(base: string, name: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? 0 : Number(line.split(' ')[1]);
}

describe('replay cap and injected fault', () => {
  let db: TestDatabase;
  let server: TestServer;
  let base: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    server = await startTestServer(db.url, { REPLAY_MAX_CLOSURES: '3', TEST_FAULT_EVENT_ID: 'poison', UPDATE_INTERVAL: '0s' });
    base = server.url.replace(/\/graphql$/, '');
  });
  afterAll(async () => {
    await server?.stop();
    await db?.drop();
  });

  it('refuses a cursor older than REPLAY_MAX_CLOSURES with CURSOR_TOO_OLD, and replays a recent one', { timeout: 30_000 }, async () => {
    await gqlData(server.url, INGEST, { events: ['r1', 'r2', 'r3', 'r4', 'r5'].map((u, i) => event(u, `replay-${u}`, T0 + i)) });
    // At least these five close (sessions the other test of this server left open close too, when it ran first).
    expect((await gqlData(server.url, 'mutation { flushSessions { closed } }')).flushSessions.closed).toBeGreaterThanOrEqual(5);
    const page = await gqlData(server.url, `{ sessions(status: CLOSED, first: 100) { edges { node { userId closeCursor } } } }`);
    const edges = page.sessions.edges as Array<{ node: { userId: string; closeCursor: string } }>;
    expect(edges.filter((e) => e.node.userId.startsWith('r'))).toHaveLength(5);
    const cursors = edges.map((e) => BigInt(e.node.closeCursor)).sort((a, b) => (a < b ? -1 : 1));
    const client = wsClient(server.wsUrl);
    try {
      // Five closures or more after "0": over the cap of three.
      const old = collect(client, `subscription { sessionClosed(after: "0") { id } }`);
      await old.ended;
      expect(old.items).toEqual([]);
      // As a graphql-ws `error` message: the operation ends.
      const error = (old.errors[0] as Array<{ message: string; extensions: { code: string } }> | undefined)?.[0];
      expect(error?.extensions.code).toBe('CURSOR_TOO_OLD');
      expect(error?.message).toContain('sessions(status: CLOSED');
      // Exactly three after the fourth cursor from the end: replayed in order.
      const from = cursors.length - 4;
      const recent = collect(client, `subscription($after: String) { sessionClosed(after: $after) { ${SESSION_FIELDS} } }`, { after: String(cursors[from]) });
      const replayed = await recent.waitFor(3);
      expect(replayed.map((s) => BigInt(s['closeCursor']))).toEqual(cursors.slice(from + 1));
      recent.stop();
    } finally {
      await client.dispose();
    }
  });

  it('a fault for one event fails only its mutation, every time, while concurrent mutations commit, with no rebuild loop', { timeout: 60_000 }, async () => {
    const rebuildsBefore = await metric(base, 'sessions_writer_rebuilds_total');
    for (let round = 0; round < 3; round++) {
      const innocent = Array.from({ length: 8 }, (_, i) =>
        gql(server.url, INGEST, { events: [event(`f${i}`, `fault-${round}-${i}-a`), event(`f${i}`, `fault-${round}-${i}-b`, T0 + 1_000)] }),
      );
      const poisoned = gql(server.url, INGEST, { events: [event('bad', `bad-${round}`), event('bad', 'poison', T0 + 5)] });
      const [bad, ...good] = await Promise.all([poisoned, ...innocent]);
      expect(bad?.errors?.[0]?.extensions?.code).toBe('INTERNAL_SERVER_ERROR');
      for (const result of good) expect(result.data?.['ingestEvents']).toEqual({ accepted: 2, duplicates: 0, rejected: [] });
    }
    const rows = await server.service.database.prisma.$queryRawUnsafe<Array<{ good: number; bad: number }>>(
      `SELECT count(*) FILTER (WHERE event_id LIKE 'fault-%')::int AS good, count(*) FILTER (WHERE user_id = 'bad')::int AS bad FROM events`,
    );
    expect(rows[0]).toEqual({ good: 48, bad: 0 });
    // Each poisoned group costs at most 2 + ceil(log2(9)) failed attempts, one rebuild each; then rebuilds stop.
    await gqlData(server.url, INGEST, { events: [event('calm', 'calm-1')] });
    const rebuilds = (await metric(base, 'sessions_writer_rebuilds_total')) - rebuildsBefore;
    expect(rebuilds).toBeGreaterThanOrEqual(3 * 2);
    expect(rebuilds).toBeLessThanOrEqual(3 * 6);
    await gqlData(server.url, INGEST, { events: [event('calm', 'calm-2', T0 + 10)] });
    expect((await metric(base, 'sessions_writer_rebuilds_total')) - rebuildsBefore).toBe(rebuilds);
    expect(await metric(base, 'sessions_writer_healthy')).toBe(1);
  });
});

describe('HTTP and WebSocket limits', () => {
  let db: TestDatabase;
  let server: TestServer;
  let port: number;

  beforeAll(async () => {
    db = await createTestDatabase();
    server = await startTestServer(db.url, {
      WS_MAX_CONNECTIONS: '2',
      HTTP_HEADERS_TIMEOUT: '1s',
      HTTP_REQUEST_TIMEOUT: '2s',
      HTTP_KEEP_ALIVE_TIMEOUT: '500ms',
      HTTP_MAX_REQUESTS_PER_SOCKET: '2',
    });
    port = server.service.port;
  });
  afterAll(async () => {
    await server?.stop();
    await db?.drop();
  });

  it('refuses a WebSocket past WS_MAX_CONNECTIONS with 503 TOO_MANY_CONNECTIONS, and takes one again once a slot frees', { timeout: 30_000 }, async () => {
    const open = async (): Promise<WebSocket> => {
      const socket = new WebSocket(server.wsUrl, 'graphql-transport-ws');
      await new Promise((resolve, reject) => {
        socket.once('open', resolve);
        socket.once('error', reject);
      });
      return socket;
    };
    const first = await open();
    const second = await open();
    const refused = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const third = new WebSocket(server.wsUrl, 'graphql-transport-ws');
      third.once('open', () => reject(new Error('a third WebSocket was accepted')));
      third.once('error', () => undefined);
      third.once('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
    });
    expect(refused.status).toBe(503);
    expect(JSON.parse(refused.body).errors[0].extensions.code).toBe('TOO_MANY_CONNECTIONS');
    first.close();
    let again: WebSocket | null = null;
    await until(async () => {
      again = await open().catch(() => null);
      return again !== null;
    }, 'a WebSocket accepted after one closed');
    (again as WebSocket | null)?.close();
    second.close();
  });

  it('answers 408 to a client that never finishes its headers', { timeout: 30_000 }, async () => {
    const socket = net.connect(port, '127.0.0.1');
    let answer = '';
    socket.on('data', (chunk) => (answer += chunk.toString()));
    socket.write('POST /graphql HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n');
    await new Promise((resolve) => socket.once('close', resolve));
    expect(answer).toMatch(/^HTTP\/1\.1 408/);
  });

  it('closes an idle keep-alive socket, and a socket after HTTP_MAX_REQUESTS_PER_SOCKET requests', { timeout: 30_000 }, async () => {
    /** A raw socket that reads everything the server sends until it closes. */
    const connect = () => {
      const socket = net.connect(port, '127.0.0.1');
      const state = { text: '', closed: false };
      socket.on('data', (chunk) => (state.text += chunk.toString()));
      socket.on('close', () => (state.closed = true));
      return { socket, state };
    };
    const request = 'GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n';
    const answers = (text: string) => text.match(/HTTP\/1\.1 200/g)?.length ?? 0;

    const busy = connect();
    busy.socket.write(request);
    await until(() => answers(busy.state.text) === 1, 'the first answer');
    expect(busy.state.text).toMatch(/^connection: keep-alive/im);
    busy.socket.write(request);
    // The second answer is the last on this socket (HTTP_MAX_REQUESTS_PER_SOCKET=2): it says so, and the server closes.
    await until(() => busy.state.closed, 'the socket closed after its second request');
    expect(answers(busy.state.text)).toBe(2);
    expect(busy.state.text.split('HTTP/1.1 200')[2]).toMatch(/^connection: close/im);

    const idle = connect();
    idle.socket.write(request);
    await until(() => answers(idle.state.text) === 1, 'an answer');
    // Nothing more is sent: past HTTP_KEEP_ALIVE_TIMEOUT the server closes the socket.
    await until(() => idle.state.closed, 'the idle socket closed');
  });
});
