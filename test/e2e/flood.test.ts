// One instance under a flood (issue 12): many clients with large batches
// against a small MAX_QUEUED_EVENTS. The process stays up and within a
// memory bound, every refusal is coded (SERVICE_UNAVAILABLE, reason
// OVERLOADED, retryAfterMs), and afterwards exactly the acknowledged events
// are stored. Then heavy analytics run beside ingestion under a tiny
// QUERY_TIMEOUT: no ingest fails, and queries end with data or QUERY_TIMEOUT.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { INGEST } from '../helpers/events.ts';
import { gql, gqlData } from '../helpers/graphql.ts';
import { startProcess, type ServiceProcess } from '../helpers/process.ts';

/** Resident memory the service may reach under this flood (it idles near 200 MB; unbounded queues grew past 1.5 GB). */
const RSS_BOUND_BYTES = 700 * 1024 * 1024;
const CLIENTS = 24;
const BATCH = 1_000;
const FLOOD_MS = 4_000;
const T0 = Date.now() - 2 * 3_600_000;

function batch(client: number, n: number, size = BATCH) {
  return Array.from({ length: size }, (_, i) => ({
    eventId: `c${client}-b${n}-${i}`,
    userId: `u${client}-${i % 50}`,
    name: i % 97 === 0 ? 'purchase' : 'page_view',
    timestamp: new Date(T0 + n * 1_000 + i).toISOString(),
    value: i % 97 === 0 ? 9.5 : null,
    properties: { url: `https://shop.example/products/${i}?utm_source=news&utm_campaign=c${client}`, referrer: 'https://search.example/' },
  }));
}

async function rss(base: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('process_resident_memory_bytes '));
  return Number(line?.split(' ')[1] ?? Number.NaN);
}

/** Starts the service as a child process on the test database (or on PGlite in a temporary folder). */
async function start(db: TestDatabase, env: Record<string, string>): Promise<{ service: ServiceProcess; cleanup: () => void }> {
  const dataDir = db.url === null ? mkdtempSync(path.join(tmpdir(), 'sessions-flood-')) : null;
  const service = await startProcess({ ...(db.url === null ? { DATA_DIR: dataDir ?? '' } : { DATABASE_URL: db.url }), ...env });
  return { service, cleanup: () => dataDir !== null && rmSync(dataDir, { recursive: true, force: true }) };
}

describe('a flood of large batches against a small MAX_QUEUED_EVENTS', () => {
  let db: TestDatabase;
  let running: Awaited<ReturnType<typeof start>> | undefined;

  beforeAll(async () => {
    db = await createTestDatabase();
    running = await start(db, { MAX_BATCH_SIZE: String(BATCH), GROUP_COMMIT_MAX_EVENTS: '2000', MAX_QUEUED_EVENTS: '4000' });
  });
  afterAll(async () => {
    await running?.service.stop('SIGTERM');
    running?.cleanup();
    await db?.drop();
  });

  it('stays up and bounded, refuses with a code, and stores exactly the acknowledged events', { timeout: 120_000 }, async () => {
    const { service } = running!;
    let peak = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        peak = Math.max(peak, await rss(service.base));
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    })();
    let accepted = 0;
    let refusals = 0;
    const failures: unknown[] = [];
    const end = Date.now() + FLOOD_MS;
    await Promise.all(
      Array.from({ length: CLIENTS }, async (_, client) => {
        for (let n = 0; Date.now() < end; n++) {
          const result = await gql(service.url, INGEST, { events: batch(client, n) });
          const error = result.errors?.[0];
          if (error === undefined) {
            accepted += (result.data as { ingestEvents: { accepted: number } }).ingestEvents.accepted;
          } else if (error.extensions?.code === 'SERVICE_UNAVAILABLE' && error.extensions['reason'] === 'OVERLOADED') {
            refusals += 1;
            const retryAfterMs = Number(error.extensions['retryAfterMs']);
            expect(retryAfterMs).toBeGreaterThan(0);
            await new Promise((resolve) => setTimeout(resolve, Math.min(retryAfterMs, 250)));
          } else {
            failures.push(error);
          }
        }
      }),
    );
    sampling = false;
    await sampler;
    expect(failures).toEqual([]);
    expect(refusals).toBeGreaterThan(0);
    expect(accepted).toBeGreaterThan(0);
    expect(service.child.exitCode).toBeNull();
    expect(peak).toBeLessThan(RSS_BOUND_BYTES);
    const stats = await gqlData(service.url, '{ engagementStats { events } }');
    expect(stats.engagementStats.events).toBe(accepted);
    const metrics = await (await fetch(`${service.base}/metrics`)).text();
    expect(metrics).toMatch(new RegExp(`^sessions_admission_refused_total ${refusals}$`, 'm'));
  });
});

describe('analytics beside ingestion under a tiny QUERY_TIMEOUT', () => {
  let db: TestDatabase;
  let running: Awaited<ReturnType<typeof start>> | undefined;

  beforeAll(async () => {
    db = await createTestDatabase();
    running = await start(db, { QUERY_TIMEOUT: '1ms', DATABASE_POOL_SIZE: '4' });
  });
  afterAll(async () => {
    await running?.service.stop('SIGTERM');
    running?.cleanup();
    await db?.drop();
  });

  it('no ingest fails, and every query ends with data or QUERY_TIMEOUT', { timeout: 120_000 }, async () => {
    const { service } = running!;
    // Enough sessions that the aggregates take more than a millisecond.
    for (let n = 0; n < 5; n++) await gqlData(service.url, INGEST, { events: batch(99, n, 2_000).map((e, i) => ({ ...e, userId: `seed-${n}-${i}` })) });
    const queries = [
      '{ engagementStats { sessions users medianDurationSeconds p90DurationSeconds } }',
      `{ engagementSeries(from: "${new Date(T0 - 86_400_000).toISOString()}", to: "${new Date(T0 + 86_400_000).toISOString()}", interval: HOUR) { sessions users } }`,
      '{ topUsers(by: EVENTS, limit: 50) { userId sessions } }',
    ];
    const codes = new Map<string, number>();
    let answered = 0;
    const ingestFailures: unknown[] = [];
    let accepted = 0;
    const end = Date.now() + 3_000;
    await Promise.all([
      ...Array.from({ length: 6 }, async (_, client) => {
        for (let n = 0; Date.now() < end; n++) {
          const result = await gql(service.url, INGEST, { events: batch(client, n, 500) });
          if (result.errors !== undefined) ingestFailures.push(result.errors);
          else accepted += (result.data as { ingestEvents: { accepted: number } }).ingestEvents.accepted;
        }
      }),
      ...Array.from({ length: 4 }, async (_, client) => {
        for (let n = 0; Date.now() < end; n++) {
          const result = await gql(service.url, queries[(client + n) % queries.length] as string);
          answered += 1;
          for (const error of result.errors ?? []) codes.set(String(error.extensions?.code), (codes.get(String(error.extensions?.code)) ?? 0) + 1);
        }
      }),
    ]);
    // One comparison of both, so that a failure shows what went wrong. statement_timeout is a
    // Postgres setting: embedded PGlite (one connection) has none.
    const unexpected = service.logs
      .filter((entry) => entry['msg'] === 'unexpected error while executing a GraphQL operation')
      .map((entry) => ({ path: entry['path'], err: JSON.stringify(entry['err']).slice(0, 600) }));
    expect({ ingestFailures, codes: [...codes.keys()], unexpected }).toEqual({
      ingestFailures: [],
      codes: db.url === null ? [] : ['QUERY_TIMEOUT'],
      unexpected: [],
    });
    expect(accepted).toBeGreaterThan(0);
    expect(answered).toBeGreaterThan(0);
  });
});
