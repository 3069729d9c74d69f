import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { loadConfig } from '../../src/config.ts';
import { createLogger } from '../../src/logger.ts';
import { startService, type RunningService } from '../../src/service.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { INGEST, SESSION_FIELDS, inParallel } from '../helpers/events.ts';
import { collect, gql, gqlData, wsClient } from '../helpers/graphql.ts';
import { parseMetrics, subscriptionsReach as waitForSubscriptions, waitForMetric } from '../helpers/metrics.ts';
import { waitUntil } from '../helpers/wait.ts';

const METRICS_KEYS = 'metrics-key-1,metrics-key-2';
const ADMIN_KEY = 'admin-secret-key';

const ev = (userId: string, eventId: string, timestamp: string, over: Record<string, unknown> = {}) => ({
  eventId,
  userId,
  name: 'page_view',
  timestamp,
  ...over,
});

// Steps on one service, in order: counters and gauges are checked against what the tests before left
// (the stalled-consumer test, for one, leaves a thousand open sessions).
describe('metrics and logs', { shuffle: false }, () => {
  let db: TestDatabase;
  let service: RunningService;
  let base: string;
  const logs: Array<Record<string, unknown>> = [];
  const auth = { authorization: `Bearer ${ADMIN_KEY}` };

  async function scrape(key = 'metrics-key-1'): Promise<Map<string, number>> {
    const response = await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${key}` } });
    expect(response.status).toBe(200);
    return parseMetrics(await response.text());
  }

  beforeAll(async () => {
    db = await createTestDatabase();
    const config = loadConfig({
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'debug',
      ...(db.url === null ? {} : { DATABASE_URL: db.url }),
      METRICS_API_KEY: METRICS_KEYS,
      ADMIN_API_KEYS: ADMIN_KEY,
      MAX_BATCH_SIZE: '10',
      SESSION_GAP: '30m',
      ALLOWED_LATENESS: '0s',
      // A subscription more than 10 messages behind is cut off (the bound may be that low with commits of 10 events).
      GROUP_COMMIT_MAX_EVENTS: '10',
      WS_MAX_QUEUED_MESSAGES: '10',
    });
    // Captures the service's log lines to check request ids and redaction.
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString().split('\n')) if (line !== '') logs.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    service = await startService(config, createLogger(config.logLevel, sink));
    base = service.url.replace(/\/graphql$/, '');
  });
  afterAll(async () => {
    await service?.stop();
    await db?.drop();
  });

  it('serves /metrics only with a metrics key when METRICS_API_KEY is set (several keys work)', async () => {
    const anonymous = await fetch(`${base}/metrics`);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(((await anonymous.json()) as any).errors[0].extensions.code).toBe('UNAUTHENTICATED');
    expect((await fetch(`${base}/metrics`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    // An API key of another kind is not a metrics key.
    expect((await fetch(`${base}/metrics`, { headers: auth })).status).toBe(401);
    const ok = await fetch(`${base}/metrics`, { headers: { authorization: 'Bearer metrics-key-2' } });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  });

  it('starts with zeroed counters, the default process metrics and the realtime counters', async () => {
    const m = await scrape();
    expect(m.get('sessions_events_accepted_total')).toBe(0);
    expect(m.get('sessions_events_rejected_total{code="MISSING_FIELD"}')).toBe(0);
    expect(m.get('sessions_closed_total{reason="FLUSH"}')).toBe(0);
    expect(m.get('sessions_open')).toBe(0);
    expect(m.get('sessions_writer_queue_depth')).toBe(0);
    expect(m.get('sessions_writer_healthy')).toBe(1);
    expect(m.get('sessions_subscriptions_active')).toBe(0);
    expect(m.get('sessions_ws_messages_sent_total')).toBe(0);
    expect(m.get('sessions_ws_messages_dropped_total')).toBe(0);
    expect(m.get('sessions_commit_duration_seconds_count')).toBe(0);
    expect(m.has('process_cpu_user_seconds_total')).toBe(true);
    expect(m.has('nodejs_heap_size_used_bytes')).toBe(true);
  });

  it('counts accepted, duplicate and rejected events, batches and commits', async () => {
    const before = await scrape();
    const data = await gqlData(
      service.url,
      INGEST,
      {
        events: [
          ev('m1', 'm1-a', '2026-04-01T10:00:00Z'),
          ev('m1', 'm1-b', '2026-04-01T10:05:00Z'),
          ev('m2', 'm2-a', '2026-04-01T10:00:00Z'),
          ev('m1', 'm1-a', '2026-04-01T10:00:00Z'),
          ev('', 'bad-1', '2026-04-01T10:00:00Z'),
          ev('m1', 'bad-2', 'noon'),
        ],
      },
      auth,
    );
    expect(data['ingestEvents']).toMatchObject({ accepted: 3, duplicates: 1 });
    const after = await scrape();
    const delta = (key: string) => (after.get(key) ?? 0) - (before.get(key) ?? 0);
    expect(delta('sessions_events_accepted_total')).toBe(3);
    expect(delta('sessions_events_duplicate_total')).toBe(1);
    expect(delta('sessions_events_rejected_total{code="MISSING_FIELD"}')).toBe(1);
    expect(delta('sessions_events_rejected_total{code="INVALID_TIMESTAMP"}')).toBe(1);
    expect(delta('sessions_ingest_batches_total{result="ok"}')).toBe(1);
    expect(delta('sessions_commit_duration_seconds_count')).toBeGreaterThanOrEqual(1);
    expect(delta('sessions_commit_duration_seconds_sum')).toBeGreaterThan(0);
    expect(after.get('sessions_open')).toBe(2);
    expect(after.get('sessions_writer_queue_depth')).toBe(0);

    const tooLarge = await gql(
      service.url,
      INGEST,
      { events: Array.from({ length: 11 }, (_, i) => ev('m9', `m9-${i}`, '2026-04-01T10:00:00Z')) },
      auth,
    );
    expect(tooLarge.errors?.[0]?.extensions?.code).toBe('BATCH_TOO_LARGE');
    const refused = await scrape();
    expect(refused.get('sessions_events_rejected_total{code="BATCH_TOO_LARGE"}')).toBe(11);
    expect(refused.get('sessions_ingest_batches_total{result="BATCH_TOO_LARGE"}')).toBe(1);
    expect(refused.get('sessions_events_accepted_total')).toBe(after.get('sessions_events_accepted_total'));
  });

  it('counts closures by reason, corrections and open sessions through a watermark, a late event and a flush', async () => {
    // m3 moves the watermark to 12:00: the sessions of m1 (closes 10:35) and m2 (10:30) close.
    await gqlData(service.url, INGEST, { events: [ev('m3', 'm3-a', '2026-04-01T12:00:00Z')] }, auth);
    let m = await scrape();
    expect(m.get('sessions_closed_total{reason="INACTIVITY"}')).toBe(2);
    expect(m.get('sessions_open')).toBe(1);
    const corrections = m.get('sessions_corrections_total') ?? 0;

    // A late event inside m1's closed session: the user is recomputed from the store.
    await gqlData(service.url, INGEST, { events: [ev('m1', 'm1-late', '2026-04-01T10:02:00Z')] }, auth);
    m = await scrape();
    expect(m.get('sessions_corrections_total')).toBe(corrections + 1);
    expect(m.get('sessions_closed_total{reason="INACTIVITY"}')).toBe(2);

    const flushed = await gqlData(service.url, 'mutation { flushSessions { closed } }', {}, auth);
    expect(flushed['flushSessions'].closed).toBe(1);
    m = await scrape();
    expect(m.get('sessions_closed_total{reason="FLUSH"}')).toBe(1);
    expect(m.get('sessions_open')).toBe(0);
    expect(m.get('sessions_events_accepted_total')).toBe(5);
  });

  /** Waits until the subscriptions gauge, as scraped with a metrics key, shows `value`. */
  const subscriptionsReach = (value: number): Promise<number> =>
    waitForSubscriptions({ base, headers: { authorization: 'Bearer metrics-key-1' } }, value);

  it('gauges active subscriptions', async () => {
    const client = wsClient(service.wsUrl, { authorization: `Bearer ${ADMIN_KEY}` });
    const live = collect(client, 'subscription { sessionClosed(userId: "m-sub") { id } }');
    await subscriptionsReach(1);
    await client.dispose();
    // Closing the socket ends its subscriptions.
    await subscriptionsReach(0);
  });

  it('drops a stopped subscription from the gauge at once', async () => {
    const client = wsClient(service.wsUrl, { authorization: `Bearer ${ADMIN_KEY}` });
    const live = collect(client, 'subscription { sessionClosed(userId: "m-quiet") { id } }');
    await subscriptionsReach(1);
    live.stop();
    // No message ever comes for m-quiet: a subscription that saw return() only at its next message would stay counted.
    await subscriptionsReach(0);
    // The same after a replay from a cursor (the replay is over, the live part waits).
    const resumed = collect(client, 'subscription { sessionClosed(userId: "m-quiet", after: "0") { id } }');
    await subscriptionsReach(1);
    resumed.stop();
    await subscriptionsReach(0);
    await client.dispose();
  });

  it('counts the subscription results sent to sockets', async () => {
    const before = await scrape();
    const client = wsClient(service.wsUrl, { authorization: `Bearer ${ADMIN_KEY}` });
    const live = collect(client, 'subscription { sessionStarted(userId: "m-sent") { id } }');
    const other = collect(client, 'subscription { sessionStarted(userId: "m-not-sent") { id } }');
    await subscriptionsReach(2);
    // Three sessions (an hour apart, GAP 30m) in one mutation: three results.
    const events = ['10:00', '11:00', '12:00'].map((at, i) => ev('m-sent', `m-sent-${i}`, `2026-04-02T${at}:00Z`));
    await gqlData(service.url, INGEST, { events }, auth);
    await live.waitFor(3);
    const after = await scrape();
    expect(after.get('sessions_ws_messages_sent_total')).toBe((before.get('sessions_ws_messages_sent_total') ?? 0) + 3);
    expect(after.get('sessions_ws_messages_dropped_total')).toBe(before.get('sessions_ws_messages_dropped_total'));
    expect(other.items).toEqual([]);
    await client.dispose();
    await subscriptionsReach(0);
  });

  it('counts the messages a consumer that stopped reading never got when it is cut off for falling behind', async () => {
    const before = await scrape();
    const raw = new WebSocket(service.wsUrl, 'graphql-transport-ws');
    const closedWith = new Promise<number>((resolve) => raw.on('close', (code) => resolve(code)));
    await new Promise<void>((resolve) => raw.on('open', () => resolve()));
    raw.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${ADMIN_KEY}` } }));
    await new Promise<void>((resolve) => raw.once('message', () => resolve()));
    // 15 subscriptions of whole sessions: about 10 KB per session start, well past what the kernel buffers (about 4 MB).
    const subscriptions = 15;
    for (let id = 0; id < subscriptions; id++) {
      raw.send(JSON.stringify({ id: String(id), type: 'subscribe', payload: { query: `subscription { sessionStarted { ${SESSION_FIELDS} } }` } }));
    }
    await subscriptionsReach(subscriptions);
    (raw as unknown as { _socket: { pause(): void } })._socket.pause();

    const users = 1_000;
    const batches = Array.from({ length: users / 10 }, (_, b) =>
      Array.from({ length: 10 }, (_, i) => ev(`m-stall-${b * 10 + i}`, `m-stall-${b * 10 + i}`, '2026-04-03T10:00:00Z')),
    );
    const ingest = inParallel(batches, 4, async (events) => void (await gqlData(service.url, INGEST, { events }, auth)));
    // Cut off for falling behind: what it had not read is counted as dropped.
    const droppedBefore = before.get('sessions_ws_messages_dropped_total') ?? 0;
    await waitForMetric(service, 'sessions_ws_messages_dropped_total', (dropped) => dropped > droppedBefore, 90_000);
    // It reads again at once and finds the close frame behind what was buffered.
    (raw as unknown as { _socket: { resume(): void } })._socket.resume();
    expect(await closedWith).toBe(1013);
    await ingest;
    const m = await scrape();
    const sent = (m.get('sessions_ws_messages_sent_total') ?? 0) - (before.get('sessions_ws_messages_sent_total') ?? 0);
    const dropped = (m.get('sessions_ws_messages_dropped_total') ?? 0) - (before.get('sessions_ws_messages_dropped_total') ?? 0);
    // At least what the subscription that passed the bound had not read.
    expect(dropped).toBeGreaterThan(10);
    expect(sent).toBeGreaterThan(0);
    // Each message of each subscription is counted once at most: sent, or dropped at the cut (or published after it).
    expect(sent + dropped).toBeLessThanOrEqual(users * subscriptions);
    expect(m.get('sessions_subscriptions_active')).toBe(0);
  }, 120_000);

  it('logs each HTTP request with its request id and never a key', async () => {
    await fetch(service.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': 'trace-me-42', ...auth },
      body: JSON.stringify({ query: '{ engagementStats { sessions } }' }),
    });
    await fetch(service.url, { method: 'POST', headers: { 'content-type': 'application/json', 'x-request-id': 'broken-body', ...auth }, body: '{' });
    // The request log line is written when the response finishes, which the client may see first.
    await waitUntil(() => logs.some((l) => l['requestId'] === 'broken-body' && l['msg'] === 'http request'), 'the request log line of broken-body');
    const line = logs.find((l) => l['requestId'] === 'trace-me-42' && l['msg'] === 'http request');
    expect(line).toMatchObject({ method: 'POST', path: '/graphql', status: 200 });
    expect(logs.filter((l) => l['requestId'] === 'broken-body').map((l) => l['msg'])).toEqual(['refused an HTTP request', 'http request']);
    const text = logs.map((l) => JSON.stringify(l)).join('\n');
    for (const secret of [ADMIN_KEY, 'metrics-key-1', 'metrics-key-2']) expect(text).not.toContain(secret);
    expect(logs.some((l) => l['level'] === 40 && String(l['msg']).includes('no API keys'))).toBe(false);
  });

  it('redacts authorization and connection parameters wherever a log line holds them', () => {
    const lines: string[] = [];
    const logger = createLogger('info', { write: (line: string) => void lines.push(line) });
    logger.info({ authorization: 'Bearer a', req: { headers: { authorization: 'Bearer b', cookie: 'c' } }, connectionParams: { authorization: 'd' } });
    logger.info({ config: { apiKeys: { read: ['e'] }, databaseUrl: 'postgres://u:f@h/db' } });
    const text = lines.join('');
    for (const secret of ['Bearer a', 'Bearer b', '"c"', '"d"', '"e"', 'u:f@']) expect(text).not.toContain(secret);
    expect(text).toContain('[redacted]');
  });
});
