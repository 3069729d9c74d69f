/**
 * One instance under load and analytics at once (issue 12's check): C
 * clients send B-event batches for S seconds while A clients run analytics
 * queries; the service's resident memory is sampled from /proc. Prints
 *
 *   {"bench":"load","clients":C,"batch":B,"seconds":S,"analytics":A,
 *    "acknowledged":{"batches":N,"p50Ms":X,"p99Ms":Y,"maxMs":Z},
 *    "refusals":{"count":N,"p50Ms":X,"p99Ms":Y},"failedIngestByCode":{...},
 *    "queries":{"answered":N,"failedByCode":{...}},"peakRssMB":M,
 *    "acknowledgedEvents":E,"storedEvents":E2,"alive":true}
 *
 * A client refused by admission control (SERVICE_UNAVAILABLE, reason
 * OVERLOADED) waits retryAfterMs and sends a new batch. Latencies are from
 * sending the request to its answer. Env: BENCH_LOAD_CLIENTS (64),
 * BENCH_LOAD_BATCH (5000), BENCH_LOAD_SECONDS (20), BENCH_LOAD_ANALYTICS (16),
 * and any service variable (MAX_QUEUED_EVENTS, QUERY_TIMEOUT, ...) passes through.
 */
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { createTestDatabase } from '../test/helpers/database.ts';
import { INGEST } from '../test/helpers/events.ts';
import { startProcess } from '../test/helpers/process.ts';

const CLIENTS = Number(process.env['BENCH_LOAD_CLIENTS'] ?? 64);
const BATCH = Number(process.env['BENCH_LOAD_BATCH'] ?? 5_000);
const SECONDS = Number(process.env['BENCH_LOAD_SECONDS'] ?? 20);
const ANALYTICS = Number(process.env['BENCH_LOAD_ANALYTICS'] ?? 16);
/** A client gives up on an answer after this long (the clients did after 60 s). */
const CLIENT_TIMEOUT_MS = 60_000;

function percentile(values: number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return Math.round(sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] as number);
}

function body(client: number, n: number, baseMs: number): string {
  const events = [];
  for (let i = 0; i < BATCH; i++) {
    events.push({
      eventId: `c${client}-${n}-${i}`,
      userId: `u${client}-${i % 500}`,
      name: i % 50 === 0 ? 'purchase' : 'page_view',
      timestamp: new Date(baseMs + n * 10_000 + i).toISOString(),
      channelId: `ch${i % 5}`,
      value: i % 50 === 0 ? 19.9 : null,
      properties: { url: `https://shop.example/p/${i % 300}?utm_source=news` },
    });
  }
  return JSON.stringify({ query: INGEST, variables: { events } });
}

function rssBytes(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(match?.[1] ?? 0) * 1_024;
}

type Answer = { ms: number; code: string | null; reason?: unknown; retryAfterMs?: unknown; accepted?: number };

async function post(url: string, payload: string): Promise<Answer> {
  const started = performance.now();
  try {
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: payload, signal: AbortSignal.timeout(CLIENT_TIMEOUT_MS) });
    const json = (await res.json()) as { data?: Record<string, { accepted?: number }> | null; errors?: Array<{ extensions?: Record<string, unknown> }> };
    const ms = performance.now() - started;
    const error = json.errors?.[0];
    if (error !== undefined) return { ms, code: String(error.extensions?.['code']), reason: error.extensions?.['reason'], retryAfterMs: error.extensions?.['retryAfterMs'] };
    return { ms, code: null, accepted: json.data?.['ingestEvents']?.accepted ?? 0 };
  } catch (error) {
    return { ms: performance.now() - started, code: (error as Error).name === 'TimeoutError' ? 'CLIENT_TIMEOUT' : 'NETWORK_ERROR' };
  }
}

const db = await createTestDatabase();
if (db.url === null) throw new Error('bench/load needs Postgres on 127.0.0.1:5432 (or TEST_DATABASE_URL)');
const service = await startProcess({ DATABASE_URL: db.url, MAX_BATCH_SIZE: String(Math.max(BATCH, 10_000)), LOG_LEVEL: 'info' });
const pid = service.child.pid as number;
let peak = 0;
const sampler = setInterval(() => {
  try {
    peak = Math.max(peak, rssBytes(pid));
  } catch {
    // the process ended; `alive` says so
  }
}, 100);

const baseMs = Date.now() - 6 * 3_600_000;
const end = Date.now() + SECONDS * 1_000;
const acked: number[] = [];
const refused: number[] = [];
const failedIngest: Record<string, number> = {};
const failedQueries: Record<string, number> = {};
let acknowledgedEvents = 0;
let answeredQueries = 0;
const from = new Date(baseMs - 86_400_000).toISOString();
const to = new Date(baseMs + 86_400_000).toISOString();
const QUERIES = [
  `{ engagementStats(from: "${from}", to: "${to}") { sessions users medianDurationSeconds p90DurationSeconds conversionRate } }`,
  `{ engagementSeries(from: "${from}", to: "${to}", interval: HOUR) { sessions users events } }`,
  `{ topUsers(from: "${from}", to: "${to}", by: VALUE, limit: 50) { userId sessions totalValue } }`,
  `{ topChannels(from: "${from}", to: "${to}", limit: 10) { channelId sessions } }`,
];

await Promise.all([
  ...Array.from({ length: CLIENTS }, async (_, client) => {
    for (let n = 0; Date.now() < end; n++) {
      const answer = await post(service.url, body(client, n, baseMs));
      if (answer.code === null) {
        acked.push(answer.ms);
        acknowledgedEvents += answer.accepted ?? 0;
      } else if (answer.code === 'SERVICE_UNAVAILABLE' && answer.reason === 'OVERLOADED') {
        refused.push(answer.ms);
        await new Promise((resolve) => setTimeout(resolve, Math.min(Number(answer.retryAfterMs) || 1_000, 5_000)));
      } else {
        failedIngest[answer.code] = (failedIngest[answer.code] ?? 0) + 1;
      }
    }
  }),
  ...Array.from({ length: ANALYTICS }, async (_, client) => {
    for (let n = 0; Date.now() < end; n++) {
      const answer = await post(service.url, JSON.stringify({ query: QUERIES[(client + n) % QUERIES.length] }));
      answeredQueries += 1;
      if (answer.code !== null) failedQueries[answer.code] = (failedQueries[answer.code] ?? 0) + 1;
    }
  }),
]);
clearInterval(sampler);
const alive = service.child.exitCode === null;
const client = new pg.Client({ connectionString: db.url });
await client.connect();
const stored = Number((await client.query<{ n: string }>('SELECT count(*)::text AS n FROM events')).rows[0]?.n);
await client.end();
await service.stop('SIGTERM');
await db.drop();
process.stdout.write(
  `${JSON.stringify({
    bench: 'load',
    clients: CLIENTS,
    batch: BATCH,
    seconds: SECONDS,
    analytics: ANALYTICS,
    maxQueuedEvents: process.env['MAX_QUEUED_EVENTS'] ?? 'default',
    acknowledged: { batches: acked.length, p50Ms: percentile(acked, 0.5), p99Ms: percentile(acked, 0.99), maxMs: percentile(acked, 1) },
    refusals: { count: refused.length, p50Ms: percentile(refused, 0.5), p99Ms: percentile(refused, 0.99) },
    failedIngestByCode: failedIngest,
    queries: { answered: answeredQueries, failedByCode: failedQueries },
    peakRssMB: Math.round(peak / 1_048_576),
    acknowledgedEvents,
    storedEvents: stored,
    alive,
  })}\n`,
);
