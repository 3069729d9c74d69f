import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { generateEvents, INGEST, randomBatches, shuffle, toInput } from '../helpers/events.ts';
import { gqlData } from '../helpers/graphql.ts';
import { referenceSessions, rng, type RefEvent } from '../helpers/reference.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { allSessions, comparable, prevStartMismatches, roundValues, sessionFacts, sortSessions } from '../helpers/sessions.ts';

const RULES = { gapMs: 300_000, maxDurationMs: 3_600_000, conversionEvents: ['purchase'], engagedMinDurationMs: 10_000, engagedMinEvents: 2 };
const SEEDS = [21, 22, 23];

/** Events of 150 users on one day per seed; user and event ids carry the seed. */
function seedEvents(seed: number): RefEvent[] {
  return generateEvents({ users: 150, eventsPerUser: 30, startMs: Date.parse('2026-07-01T00:00:00Z') + seed * 86_400_000, ...RULES, random: rng(seed) }).map(
    (e): RefEvent => ({ ...e, userId: `${seed}-${e.userId}`, eventId: `${seed}-${e.eventId}` }),
  );
}

describe('late events of many users in one commit (corrections as sets)', () => {
  let db: TestDatabase;
  let server: TestServer;
  beforeAll(async () => {
    db = await createTestDatabase();
    server = await startTestServer(db.url, { SESSION_GAP: '5m', SESSION_MAX_DURATION: '1h', ALLOWED_LATENESS: '10s' });
  });
  afterAll(async () => {
    await server?.stop();
    await db?.drop();
  });

  it('gives the reference sessions whatever the arrival order, with hundreds of late users per batch', async () => {
    for (const seed of SEEDS) {
      const random = rng(seed + 1_000);
      const events = seedEvents(seed);
      const sorted = [...events].sort((a, b) => a.ts - b.ts || (a.eventId < b.eventId ? -1 : 1));
      // A fifth of the events held back (offline devices), then sent shuffled after everything else: far beyond the lateness.
      const held = sorted.filter(() => random() < 0.2);
      const heldIds = new Set(held.map((e) => e.eventId));
      const onTime = sorted.filter((e) => !heldIds.has(e.eventId));
      for (const batch of randomBatches(onTime, 300, random)) await gqlData(server.url, INGEST, { events: batch.map(toInput) });
      for (const batch of randomBatches(shuffle(held, random), 400, random)) await gqlData(server.url, INGEST, { events: batch.map(toInput) });
      // Some again: duplicates change nothing.
      await gqlData(server.url, INGEST, { events: held.slice(0, 100).map(toInput) });
    }
    await gqlData(server.url, 'mutation { flushSessions { closed } }');
    const stored = await allSessions(server.url);
    const all = SEEDS.flatMap(seedEvents);
    expect(new Set(stored.map((s) => s['id'])).size).toBe(stored.length);
    expect(roundValues(sortSessions(stored.map(comparable)))).toEqual(roundValues(referenceSessions(all, RULES)));
    // Every row links to its user's previous session after the merges and moved starts of the corrections.
    // (On the PGlite fallback the service's database is in its own process: nothing to read.)
    if (db.url !== null) {
      expect(await prevStartMismatches(db.url)).toEqual([]);
      // The analytics' copy holds exactly the closed sessions, with their values.
      const facts = await sessionFacts(db.url);
      expect(facts.expected.length).toBeGreaterThan(0);
      expect(facts.stored).toEqual(facts.expected);
    }
  }, 240_000);
});
