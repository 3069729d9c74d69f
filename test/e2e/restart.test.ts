import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { generateEvents, INGEST, randomBatches, shuffleWithin, toInput } from '../helpers/events.ts';
import { gql, gqlData } from '../helpers/graphql.ts';
import { startProcess } from '../helpers/process.ts';
import { referenceSessions, rng, type RefEvent } from '../helpers/reference.ts';
import { allSessions, comparable, roundValues, sortSessions } from '../helpers/sessions.ts';

const RULES = {
  gapMs: 300_000,
  maxDurationMs: 3_600_000,
  conversionEvents: ['purchase'],
  engagedMinDurationMs: 10_000,
  engagedMinEvents: 2,
};
const ENV = { SESSION_GAP: '5m', SESSION_MAX_DURATION: '1h', ALLOWED_LATENESS: '30s' };

describe('restart and crash (kill -9) during ingestion', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('loses nothing acknowledged, doubles nothing, and converges to the exact sessions', async () => {
    const random = rng(77);
    const events = generateEvents({
      users: 25,
      eventsPerUser: 80,
      startMs: Date.parse('2026-05-01T00:00:00Z'),
      gapMs: RULES.gapMs,
      maxDurationMs: RULES.maxDurationMs,
      random,
    });
    const sorted = [...events].sort((a, b) => a.ts - b.ts || (a.eventId < b.eventId ? -1 : 1));
    const arrival = shuffleWithin(sorted, 30_000, random);
    const batches = randomBatches(arrival, 60, random);
    const env = { ...ENV, ...(db.url === null ? { DATA_DIR: `/tmp/sessions-restart-${process.pid}` } : { DATABASE_URL: db.url }) };
    const acknowledged: RefEvent[] = [];

    // 1. A clean restart after a third of the batches.
    const third = Math.floor(batches.length / 3);
    let service = await startProcess(env);
    for (const batch of batches.slice(0, third)) {
      await gqlData(service.url, INGEST, { events: batch.map(toInput) });
      acknowledged.push(...batch);
    }
    expect(await service.stop('SIGTERM')).toBe(0);

    // 2. Restart, keep ingesting with requests in flight, then kill -9.
    service = await startProcess(env);
    const open = await gqlData(service.url, '{ sessions(status: OPEN, first: 500) { nodes { id } } }');
    expect(open['sessions'].nodes.length).toBeGreaterThan(0);
    const inFlight: Array<Promise<unknown>> = [];
    for (const [i, batch] of batches.slice(third, 2 * third).entries()) {
      const request = gql(service.url, INGEST, { events: batch.map(toInput) }).then((r) => {
        if (r.data) acknowledged.push(...batch);
      });
      if (i % 4 === 3) await request;
      else inFlight.push(request.catch(() => undefined));
    }
    expect(await service.stop('SIGKILL')).toBeNull();
    await Promise.all(inFlight);

    // 3. Everything acknowledged survived the crash.
    service = await startProcess(env);
    const stored = await allSessions(service.url);
    const storedEvents = stored.reduce((sum, s) => sum + (s['eventCount'] as number), 0);
    expect(storedEvents).toBeGreaterThanOrEqual(new Set(acknowledged.map((e) => e.eventId)).size);

    // 4. Send everything again (retries are duplicates), flush, compare.
    for (const batch of batches) await gqlData(service.url, INGEST, { events: batch.map(toInput) });
    await gqlData(service.url, 'mutation { flushSessions { closed } }');
    const final = await allSessions(service.url);
    expect(new Set(final.map((s) => s['id'])).size).toBe(final.length);
    expect(roundValues(sortSessions(final.map(comparable)))).toEqual(roundValues(referenceSessions(events, RULES)));
    expect(await service.stop('SIGTERM')).toBe(0);
  });
});
