// Ingest throughput end to end: HTTP GraphQL mutations (batches of 1000 from
// C concurrent clients) into the service running as its own process on the
// local Postgres. Prints one JSON line.
import os from 'node:os';
import { createTestDatabase } from '../test/helpers/database.ts';
import { INGEST } from '../test/helpers/events.ts';
import { startProcess } from '../test/helpers/process.ts';

const TOTAL = Number(process.env['BENCH_INGEST_EVENTS'] ?? 300_000);
const BATCH = 1_000;
const CLIENTS = Number(process.env['BENCH_INGEST_CLIENTS'] ?? 4);
const USERS = 20_000;

function batchBody(start: number, baseMs: number, prefix = 'u'): string {
  const events = [];
  for (let i = start; i < start + BATCH; i++) {
    const user = i % USERS;
    events.push({
      eventId: `${prefix}-${i}`,
      userId: `${prefix}${user}`,
      name: i % 17 === 0 ? 'purchase' : 'page_view',
      // every user gets an event every USERS/rate ms; about 15 s apart per user: one long session each
      timestamp: new Date(baseMs + i * 1).toISOString(),
      channelId: `c${i % 7}`,
      value: i % 17 === 0 ? 9.99 : null,
    });
  }
  return JSON.stringify({ query: INGEST, variables: { events } });
}

export async function benchIngest(): Promise<Record<string, unknown>> {
  const db = await createTestDatabase();
  const service = await startProcess({
    ...(db.url === null ? {} : { DATABASE_URL: db.url }),
    DATABASE_POOL_SIZE: '4',
  });
  try {
    const baseMs = Date.now() - 2 * 86_400_000;
    const bodies: string[] = [];
    for (let start = 0; start < TOTAL; start += BATCH) bodies.push(batchBody(start, baseMs));
    // Warm-up on other users, earlier in event time (a later timestamp would
    // move the watermark past the measured events and make them all late).
    await fetch(service.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: batchBody(0, baseMs - 60_000, 'warm') });
    let next = 0;
    const latencies: number[] = [];
    const started = performance.now();
    await Promise.all(
      Array.from({ length: CLIENTS }, async () => {
        while (next < bodies.length) {
          const body = bodies[next++] as string;
          const t0 = performance.now();
          const res = await fetch(service.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
          const json = (await res.json()) as { data?: { ingestEvents: { accepted: number } }; errors?: unknown };
          if (!json.data || json.data.ingestEvents.accepted !== BATCH) throw new Error(`ingest failed: ${JSON.stringify(json).slice(0, 300)}`);
          latencies.push(performance.now() - t0);
        }
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    latencies.sort((a, b) => a - b);
    return {
      bench: 'ingest',
      eventsPerSec: Math.round(TOTAL / seconds),
      events: TOTAL,
      batch: BATCH,
      clients: CLIENTS,
      users: USERS,
      batchP50Ms: Math.round(latencies[Math.floor(latencies.length * 0.5)] ?? 0),
      batchP99Ms: Math.round(latencies[Math.floor(latencies.length * 0.99)] ?? 0),
      database: db.url === null ? 'pglite' : 'postgres',
      cpus: os.cpus().length,
    };
  } finally {
    await service.stop('SIGTERM');
    await db.drop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(JSON.stringify(await benchIngest()));
}
