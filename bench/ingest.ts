/**
 * Ingest throughput end to end: HTTP GraphQL mutations (batches of 1000 from
 * C concurrent clients) into the service running as its own process on the
 * local Postgres (a fresh database). Prints one JSON line per traffic shape:
 *
 * - `distinct`: every event of a batch belongs to another user, so every
 *   event also rewrites a session row (the worst case for the session table:
 *   a stream of many users each sending now and then);
 * - `bursts`: a batch holds 10 consecutive events of each of 100 users (an
 *   SDK that buffers a second of a user's activity), so sessions are
 *   rewritten once per 10 events;
 * - `late`: `bursts`, but every 20th event (5%) is stamped 1 to 60 minutes
 *   earlier than its neighbours, far beyond ALLOWED_LATENESS (30 s): a device
 *   that was offline. Each such event is corrected from the stored events.
 *   The bar: at least half of `bursts` in the same run.
 *
 * With BENCH_INGEST_DEFINITIONS=3 the service runs three session definitions
 * (docs/definitions.md): `default`, `purchases` (a filter matching the
 * purchase events, 1 in 17: 6% of the events) and `long` (every event, a
 * 2-hour gap): the cost should grow with the matched events, not with the
 * number of definitions. With BENCH_INGEST_REBUILD=1 the service is then
 * restarted with one more definition (`rebuilt`, every event, 10-minute gap)
 * and the rate at which it is built from the stored events is printed
 * (`bench: "rebuild"`).
 *
 * Env: BENCH_INGEST_EVENTS (default 300000 per shape), BENCH_INGEST_CLIENTS (8),
 * BENCH_INGEST_SHAPES (comma-separated; default all), BENCH_INGEST_DEFINITIONS
 * (1 or 3; default 1), BENCH_INGEST_REBUILD (0 or 1; default 0),
 * BENCH_INGEST_PROPERTIES (1: every event carries Segment-like properties).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createTestDatabase } from '../test/helpers/database.ts';
import { batchBody, BATCH, USERS, type Shape } from './traffic.ts';
import { startProcess } from '../test/helpers/process.ts';

const TOTAL = Number(process.env['BENCH_INGEST_EVENTS'] ?? 300_000);
const CLIENTS = Number(process.env['BENCH_INGEST_CLIENTS'] ?? 8);
const DEFINITIONS = Number(process.env['BENCH_INGEST_DEFINITIONS'] ?? 1);
const REBUILD = process.env['BENCH_INGEST_REBUILD'] === '1';
/** Every event with Segment-like properties (bench/traffic.ts propertiesOf). */
const PROPERTIES = process.env['BENCH_INGEST_PROPERTIES'] === '1';
const THREE = [{ name: 'default' }, { name: 'purchases', filter: { names: ['purchase'] } }, { name: 'long', gap: '2h' }];

/** A definitions file in a fresh folder (null: none, the single `default`). */
function definitionsFile(definitions: unknown[] | null): string | null {
  if (definitions === null) return null;
  const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'bench-definitions-')), 'definitions.json');
  writeFileSync(file, JSON.stringify({ definitions }));
  return file;
}

/** Restarts on the same database with one more definition and times its build from the stored events. */
async function benchRebuild(env: Record<string, string>, base: unknown[], storedEvents: number): Promise<Record<string, unknown>> {
  const file = definitionsFile([...base, { name: 'rebuilt', gap: '10m' }]) as string;
  const started = performance.now();
  const service = await startProcess({ ...env, SESSION_DEFINITIONS: file });
  try {
    for (;;) {
      const res = await fetch(service.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: '{ definitions { name status } }' }),
      });
      const json = (await res.json()) as { data: { definitions: Array<{ name: string; status: string }> } };
      if (json.data.definitions.find((d) => d.name === 'rebuilt')?.status === 'READY') break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const seconds = (performance.now() - started) / 1000;
    return { bench: 'rebuild', storedEvents, seconds: Number(seconds.toFixed(1)), eventsPerSec: Math.round(storedEvents / seconds), definitions: base.length + 1 };
  } finally {
    await service.stop('SIGTERM');
    rmSync(path.dirname(file), { recursive: true, force: true });
  }
}

async function post(url: string, body: string): Promise<void> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  const json = (await res.json()) as { data?: { ingestEvents: { accepted: number } }; errors?: unknown };
  if (!json.data || json.data.ingestEvents.accepted !== BATCH) throw new Error(`ingest failed: ${JSON.stringify(json).slice(0, 300)}`);
}

async function benchShape(shape: Shape): Promise<Record<string, unknown>> {
  const db = await createTestDatabase();
  const definitions = DEFINITIONS === 3 ? THREE : null;
  const file = definitionsFile(definitions);
  const env = {
    ...(db.url === null ? {} : { DATABASE_URL: db.url }),
    DATABASE_POOL_SIZE: '4',
    LOG_LEVEL: 'debug',
  };
  let service = await startProcess({ ...env, ...(file === null ? {} : { SESSION_DEFINITIONS: file }) });
  let rebuild: Record<string, unknown> | null = null;
  try {
    const baseMs = Date.now() - 2 * 86_400_000;
    const bodies: string[] = [];
    for (let start = 0; start < TOTAL; start += BATCH) bodies.push(batchBody(shape, start, baseMs, 'u', PROPERTIES));
    // Warm-up on other users, earlier in event time (a later timestamp would
    // move the watermark past the measured events and make them all late).
    for (let w = 0; w < 5; w++) await post(service.url, batchBody(shape, w * BATCH, baseMs - 60_000, 'warm', PROPERTIES));
    const logsBefore = service.logs.length;
    let next = 0;
    const latencies: number[] = [];
    const started = performance.now();
    await Promise.all(
      Array.from({ length: CLIENTS }, async () => {
        while (next < bodies.length) {
          const body = bodies[next++] as string;
          const t0 = performance.now();
          await post(service.url, body);
          latencies.push(performance.now() - t0);
        }
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    latencies.sort((a, b) => a - b);
    const commits = service.logs.slice(logsBefore).filter((l) => l['msg'] === 'group committed');
    const commitMs = commits.reduce((sum, l) => sum + Number(l['ms']), 0);
    const sessionWrites = commits.reduce((sum, l) => sum + Number(l['changes']), 0);
    if (REBUILD) {
      await service.stop('SIGTERM');
      rebuild = await benchRebuild(env, definitions ?? [{ name: 'default' }], TOTAL + 5 * BATCH);
      service = await startProcess(env);
    }
    return {
      bench: 'ingest',
      shape,
      definitions: definitions?.length ?? 1,
      ...(PROPERTIES ? { properties: true } : {}),
      eventsPerSec: Math.round(TOTAL / seconds),
      events: TOTAL,
      batch: BATCH,
      clients: CLIENTS,
      users: USERS,
      batchP50Ms: Math.round(latencies[Math.floor(latencies.length * 0.5)] ?? 0),
      batchP99Ms: Math.round(latencies[Math.floor(latencies.length * 0.99)] ?? 0),
      commits: commits.length,
      eventsPerCommit: Math.round(TOTAL / Math.max(1, commits.length)),
      sessionWritesPerEvent: Number((sessionWrites / TOTAL).toFixed(2)),
      // Share of the wall time the single writer spent inside transactions: near 1 means Postgres limits.
      writerBusy: Number((commitMs / 1000 / seconds).toFixed(2)),
      database: db.url === null ? 'pglite' : 'postgres',
      cpus: os.cpus().length,
    };
  } finally {
    await service.stop('SIGTERM');
    if (rebuild !== null) console.log(JSON.stringify({ ...rebuild, shape }));
    if (file !== null) rmSync(path.dirname(file), { recursive: true, force: true });
    await db.drop();
  }
}

const SHAPES = (process.env['BENCH_INGEST_SHAPES'] ?? 'distinct,bursts,late').split(',') as Shape[];
for (const shape of SHAPES) console.log(JSON.stringify(await benchShape(shape)));
