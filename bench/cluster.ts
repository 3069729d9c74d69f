/**
 * The cluster on one database: the same ingest traffic (batches of 1,000,
 * 10 events per user, from C clients spread over the instances) against 1
 * and 2 instances, then the failover time. Prints per instance count
 *
 *   {"bench":"cluster","instances":N,"eventsPerSec":X,"forwardedShare":F,
 *    "forwardOverheadUsPerEvent":U,"failoverMs":M}
 *
 * - forwardedShare: events an instance sent on to the owner of their
 *   partition, over all events (about (N-1)/N when clients spread evenly);
 * - forwardOverheadUsPerEvent: wall time of the forwards (until the owner's
 *   commit answered) per forwarded event, in microseconds, minus nothing: an
 *   upper bound of what forwarding adds to an event's path;
 * - failoverMs (N >= 2): kill -9 of one instance to the first commit by the
 *   new owner of its partitions (a one-event batch for one of its users, sent
 *   to a survivor and retried by the survivor's router until it commits).
 *
 * On 2 cores no gain from a second instance is expected: both share the
 * cores with Postgres. Env: BENCH_CLUSTER_EVENTS (default 200000), BENCH_CLUSTER_CLIENTS (8).
 */
import os from 'node:os';
import { partitionOf } from '../src/cluster/partition.ts';
import { balanced, clusterState, startInstances, waitUntil } from '../test/helpers/cluster.ts';
import { createTestDatabase } from '../test/helpers/database.ts';
import { INGEST } from '../test/helpers/events.ts';
import type { ServiceProcess } from '../test/helpers/process.ts';
import { batchBody, BATCH } from './traffic.ts';

const TOTAL = Number(process.env['BENCH_CLUSTER_EVENTS'] ?? 200_000);
const CLIENTS = Number(process.env['BENCH_CLUSTER_CLIENTS'] ?? 8);

async function post(url: string, body: string): Promise<void> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  const json = (await res.json()) as { data?: { ingestEvents: { accepted: number } }; errors?: unknown };
  if (!json.data) throw new Error(`ingest failed: ${JSON.stringify(json).slice(0, 300)}`);
}

/** Sum of a Prometheus metric (all label sets matching `filter`) on one instance. */
async function metric(instance: ServiceProcess, name: string, filter = ''): Promise<number> {
  const text = await (await fetch(`${instance.base}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) if (line.startsWith(name) && line.includes(filter) && !line.startsWith('#')) sum += Number(line.split(' ').pop());
  return sum;
}

async function failover(instances: ServiceProcess[], partitions: number): Promise<number> {
  const [survivor, victim] = instances as [ServiceProcess, ServiceProcess];
  const state = await clusterState(victim.url);
  const owned = new Set(state.instances.find((i) => i.id === state.self)?.partitions ?? []);
  let userId = '';
  for (let i = 0; !owned.has(partitionOf(userId, partitions)) || userId === ''; i++) userId = `failover-${i}`;
  const event = { eventId: `${userId}-probe`, userId, name: 'page_view', timestamp: new Date(Date.now() - 60_000).toISOString() };
  const started = performance.now();
  await victim.stop('SIGKILL');
  for (;;) {
    const res = await fetch(survivor.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: INGEST, variables: { events: [event] } }),
    });
    const json = (await res.json()) as { data?: unknown };
    if (json.data) return Math.round(performance.now() - started);
  }
}

async function run(n: number): Promise<Record<string, unknown>> {
  const db = await createTestDatabase();
  if (db.url === null) throw new Error('the cluster benchmark needs the Postgres server');
  const instances = await startInstances(n, { DATABASE_URL: db.url, DATABASE_POOL_SIZE: '4' });
  try {
    await waitUntil(() => balanced((instances[0] as ServiceProcess).url, n), 'the instances to balance');
    const baseMs = Date.now() - 2 * 86_400_000;
    const bodies: string[] = [];
    for (let start = 0; start < TOTAL; start += BATCH) bodies.push(batchBody('bursts', start, baseMs, 'u'));
    for (let w = 0; w < 5; w++) await post((instances[w % n] as ServiceProcess).url, batchBody('bursts', w * BATCH, baseMs - 60_000, 'warm'));
    const forwardedBefore = (await Promise.all(instances.map((i) => metric(i, 'sessions_cluster_forwarded_events_total', 'result="ok"')))).reduce((a, b) => a + b, 0);
    const forwardSecondsBefore = (await Promise.all(instances.map((i) => metric(i, 'sessions_cluster_forward_duration_seconds_sum')))).reduce((a, b) => a + b, 0);
    let next = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: CLIENTS }, async (_, c) => {
        const target = instances[c % n] as ServiceProcess;
        while (next < bodies.length) await post(target.url, bodies[next++] as string);
      }),
    );
    const seconds = (performance.now() - started) / 1_000;
    const forwarded = (await Promise.all(instances.map((i) => metric(i, 'sessions_cluster_forwarded_events_total', 'result="ok"')))).reduce((a, b) => a + b, 0) - forwardedBefore;
    const forwardSeconds = (await Promise.all(instances.map((i) => metric(i, 'sessions_cluster_forward_duration_seconds_sum')))).reduce((a, b) => a + b, 0) - forwardSecondsBefore;
    const partitions = (await clusterState((instances[0] as ServiceProcess).url)).partitions;
    return {
      bench: 'cluster',
      instances: n,
      eventsPerSec: Math.round(TOTAL / seconds),
      forwardedShare: Number((forwarded / TOTAL).toFixed(3)),
      forwardOverheadUsPerEvent: forwarded === 0 ? 0 : Math.round((forwardSeconds / forwarded) * 1e6),
      failoverMs: n >= 2 ? await failover(instances, partitions) : null,
      events: TOTAL,
      clients: CLIENTS,
      cpus: os.cpus().length,
    };
  } finally {
    await Promise.all(instances.map((i) => i.stop('SIGTERM')));
    await db.drop();
  }
}

for (const n of [1, 2]) console.log(JSON.stringify(await run(n)));
