import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemorySessionStore, persistChanges, runBatch } from '../../helpers/memory-store.ts';
import { Sessionizer } from '../../../src/sessionizer/sessionizer.ts';
import type { SessionEvent, SessionSnapshot } from '../../../src/sessionizer/types.ts';
import { attributionOf } from '../../../src/sessionizer/attribution.ts';
import type { Database } from '../../../src/store/database.ts';
import { applyMigrations } from '../../../src/store/migrate.ts';
import { loadClosedFrontiers, loadOpenSessions } from '../../../src/store/session-store.ts';
import { writeSessions } from '../../../src/store/session-writes.ts';
import { createTestDatabase, openTestDatabase, type TestDatabase } from '../../helpers/database.ts';
import { actualShapes, expectedShapes, idSource, options } from './helpers.ts';

const RUNS = Number(process.env['PROP_RUNS'] ?? 500);
const TIMEOUT_MS = Math.max(60_000, RUNS * 20);

// Small numbers so that gaps, MAX_DURATION cuts, ties and lateness all happen often.
const GAP = 10;
const MAX = 35;

/** Attribution properties (as sent) that events draw from: urls, referrers, utm in the query or explicit, Segment context. */
const ATTRIBUTIONS = [
  null,
  { url: 'https://shop.example/a' },
  { url: 'https://shop.example/b?utm_source=google&utm_medium=cpc', referrer: 'https://www.google.com/' },
  { referrer: 'https://facebook.com/' },
  { utm_source: 'newsletter', utm_medium: 'email', button: 'x' },
  { url: '/c', referrer: 'https://shop.example/a' },
  { url: 'https://shop.example/e', referrer: 'https://shop.example/a' },
  { context: { page: { url: 'https://shop.example/d', referrer: 'https://t.co/x' }, campaign: { source: 'twitter', medium: 'paid_social' } } },
].map(attributionOf);

const eventArb = fc.record({
  n: fc.integer({ min: 0, max: 60 }), // eventId pool: collisions are duplicates
  userId: fc.constantFrom('a', 'b', 'c'),
  ts: fc.integer({ min: 0, max: 160 }),
  name: fc.constantFrom('view', 'click', 'buy'),
  channelId: fc.constantFrom(null, 'x', 'y', 'z'),
  value: fc.constantFrom(null, 0, 1, 2, 5),
  attribution: fc.constantFrom(...ATTRIBUTIONS),
});

type Step =
  | { kind: 'batch'; size: number; advance: number }
  | { kind: 'tick'; advance: number }
  | { kind: 'flush'; before: number | null; advance: number }
  | { kind: 'restart'; advance: number };

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('batch' as const), size: fc.integer({ min: 1, max: 8 }), advance: fc.integer({ min: 0, max: 12 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('tick' as const), advance: fc.integer({ min: 0, max: 40 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('flush' as const), before: fc.option(fc.integer({ min: 0, max: 170 })), advance: fc.integer({ min: 0, max: 5 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('restart' as const), advance: fc.integer({ min: 0, max: 5 }) }) },
);

const scenarioArb = fc.record({
  raw: fc.array(eventArb, { minLength: 1, maxLength: 40, size: 'max' }),
  // Mostly within the brief's 0..20; sometimes so large that nothing ever falls
  // behind the watermark and every event goes through the in-memory fast paths.
  lateness: fc.oneof({ weight: 3, arbitrary: fc.integer({ min: 0, max: 20 }) }, { weight: 1, arbitrary: fc.constant(1_000) }),
  order: fc.constantFrom('sorted', 'jittered', 'shuffled'),
  jitter: fc.array(fc.integer({ min: 0, max: 20 }), { minLength: 40, maxLength: 40 }),
  shuffleKeys: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 40, maxLength: 40 }),
  steps: fc.array(stepArb, { minLength: 1, maxLength: 30, size: 'max' }),
});

type Scenario = typeof scenarioArb extends fc.Arbitrary<infer T> ? T : never;

function arrival(s: Scenario): SessionEvent[] {
  const events: SessionEvent[] = s.raw.map((r) => ({
    eventId: `id${String(r.n).padStart(2, '0')}`,
    userId: r.userId,
    name: r.name,
    ts: r.ts,
    channelId: r.channelId,
    value: r.value,
    attribution: r.attribution,
  }));
  const sortKey = (e: SessionEvent, i: number): number => {
    switch (s.order) {
      case 'sorted':
        return e.ts;
      case 'jittered': // out of order by at most the lateness
        return e.ts + ((s.jitter[i] ?? 0) % (Math.min(s.lateness, 20) + 1));
      case 'shuffled':
        return s.shuffleKeys[i] ?? 0;
    }
  };
  return events
    .map((e, i) => ({ e, k: sortKey(e, i), i }))
    .sort((a, b) => a.k - b.k || a.i - b.i)
    .map((x) => x.e);
}

/**
 * What a restart must tell the core about CLOSED sessions (the reference):
 * per user, the latest end of a session closed by FLUSH or by inactivity
 * (not cut by MAX_DURATION: its cut-started successor guards it) that an
 * event at or after the watermark can still join, endedAt + GAP >= watermark.
 */
function neededFrontiers(sessions: readonly SessionSnapshot[], watermark: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const s of sessions) {
    if (s.status !== 'CLOSED' || s.closeReason === 'MAX_DURATION' || s.endedAt + GAP < watermark) continue;
    out.set(s.userId, Math.max(out.get(s.userId) ?? s.endedAt, s.endedAt));
  }
  return out;
}

// Restarts read their state as the service does (loadOpenSessions and
// loadClosedFrontiers, the SQL in src/store/session-store.ts), from the
// store's sessions written to a real database (Postgres, or PGlite without a
// server).
let db: TestDatabase;
let database: Database;

beforeAll(async () => {
  db = await createTestDatabase();
  database = await openTestDatabase(db.url);
  if (db.url === null) await applyMigrations(database.adapterFactory);
});
afterAll(async () => {
  await database?.close();
  await db?.drop();
});

/**
 * What the service would restore from a database holding exactly `sessions`:
 * its OPEN sessions (loadOpenSessions) and the closed frontiers
 * (loadClosedFrontiers).
 */
async function shippedRestore(
  sessions: readonly SessionSnapshot[],
  watermark: number,
): Promise<{ open: SessionSnapshot[]; frontiers: Map<string, number> }> {
  const { prisma } = database;
  await prisma.$executeRawUnsafe('DELETE FROM sessions');
  // The table keys sessions by uuid: stored under one, restored under the core's id again.
  const uuidOf = (i: number): string => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;
  const ids = new Map(sessions.map((s, i) => [uuidOf(i), s.id]));
  await writeSessions(prisma, sessions.map((s, i) => ({ ...s, id: uuidOf(i) })), () => false);
  const open = (await loadOpenSessions(prisma, GAP)).map((s) => ({ ...s, id: ids.get(s.id) ?? s.id }));
  return { open, frontiers: await loadClosedFrontiers(prisma, watermark, GAP, MAX) };
}

describe('sessionizer converges to the reference rules', () => {
  it('for any arrival order, batching, timers, flushes and restarts', async () => {
    await fc.assert(
      fc.asyncProperty(scenarioArb, async (scenario) => {
        const opts = options({
          gapMs: GAP,
          maxDurationMs: MAX,
          allowedLatenessMs: scenario.lateness,
          engagedMinDurationMs: 15,
          engagedMinEvents: 3,
          conversionEvents: new Set(['buy']),
          newId: idSource(),
        });
        let sz = new Sessionizer(opts);
        const store = new MemorySessionStore({ checkVersions: true });
        const events = arrival(scenario);
        let next = 0;
        let now = 1_000;
        const closedIds = new Set<string>();
        const seenIds = new Set<string>();
        const removedIds = new Set<string>();
        const check = (): void => {
          const sent = events.slice(0, next);
          expect(actualShapes(store.sessions.values())).toEqual(expectedShapes(sent, opts));
          const list = store.list();
          for (const [i, s] of list.entries()) {
            // A closed id never reopens; a removed id never comes back.
            if (closedIds.has(s.id)) expect(s.status).toBe('CLOSED');
            if (s.status === 'CLOSED') closedIds.add(s.id);
            const after = list[i + 1];
            if (after !== undefined && after.userId === s.userId && after.startedByCut) {
              expect([s.status, s.closeReason]).toEqual(['CLOSED', 'MAX_DURATION']);
            }
          }
          const present = new Set(list.map((s) => s.id));
          for (const id of present) expect(removedIds.has(id)).toBe(false);
          for (const id of seenIds) if (!present.has(id)) removedIds.add(id);
          for (const id of present) seenIds.add(id);
          const openInStore = [...store.sessions.values()].filter((s) => s.status === 'OPEN');
          const openInMemory = sz.openSessions();
          expect(openInMemory.map((s) => `${s.id}@${s.version}`).sort()).toEqual(
            openInStore.map((s) => `${s.id}@${s.version}`).sort(),
          );
          expect(sz.openCount()).toBe(openInMemory.length);
        };
        for (const step of scenario.steps) {
          now += step.advance;
          if (step.kind === 'batch') {
            const batch = events.slice(next, next + step.size);
            next += batch.length;
            await runBatch(sz, batch, store, now);
          } else if (step.kind === 'tick') {
            const deadline = sz.nextDeadline();
            sz.advanceTime(now);
            const closed = await persistChanges(sz, store);
            // nextDeadline is exact: nothing closes before it, something closes at it.
            expect(closed.length > 0).toBe(deadline !== null && deadline <= now);
            const after = sz.nextDeadline();
            if (after !== null) expect(after).toBeGreaterThan(now);
          } else if (step.kind === 'flush') {
            sz.flush(step.before ?? undefined, now);
            await persistChanges(sz, store);
          } else {
            // A restart: a fresh sessionizer continues from what the database holds, read as the
            // service reads it. The frontiers include every one the rules need (the SQL may give
            // more: a looser bound, harmless if the sessions still match the reference).
            const watermark = sz.watermark();
            const maxEventTs = watermark + scenario.lateness;
            const stored = [...store.sessions.values()];
            const { open, frontiers } = await shippedRestore(stored, watermark);
            for (const [userId, frontier] of neededFrontiers(stored, watermark)) expect(frontiers.get(userId), userId).toBe(frontier);
            sz = new Sessionizer(opts);
            sz.restore(open, maxEventTs, frontiers, now);
            expect(sz.watermark()).toBe(watermark);
            await persistChanges(sz, store);
          }
          check();
        }
        if (next < events.length) {
          await runBatch(sz, events.slice(next), store, now + 1);
          next = events.length;
          check();
        }
        sz.flush(undefined, now + 2);
        await persistChanges(sz, store);
        check();
        expect(sz.openCount()).toBe(0);
        expect([...store.sessions.values()].every((s) => s.status === 'CLOSED')).toBe(true);
      }),
      { numRuns: RUNS },
    );
  }, TIMEOUT_MS);
});

describe('in-memory fast paths are exact', () => {
  // Lateness so large that nothing falls behind the watermark and no timer
  // fires: every event is placed in memory or deferred by the fast path itself
  // (a cut-started neighbour, a span reaching maxDuration).
  const denseArb = fc.record({
    ts: fc.array(fc.integer({ min: 0, max: 120 }), { minLength: 2, maxLength: 50, size: 'max' }),
    users: fc.array(fc.constantFrom('a', 'b'), { minLength: 50, maxLength: 50 }),
    names: fc.array(fc.constantFrom('view', 'buy'), { minLength: 50, maxLength: 50 }),
    channels: fc.array(fc.constantFrom(null, 'x', 'y'), { minLength: 50, maxLength: 50 }),
    attributions: fc.array(fc.constantFrom(...ATTRIBUTIONS), { minLength: 50, maxLength: 50 }),
    order: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 50, maxLength: 50 }),
    cuts: fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 50, maxLength: 50 }),
  });

  it('for shuffled dense streams in random batches', async () => {
    await fc.assert(
      fc.asyncProperty(denseArb, async (d) => {
        const opts = options({ gapMs: GAP, maxDurationMs: MAX, allowedLatenessMs: 1_000, newId: idSource() });
        const events: SessionEvent[] = d.ts
          .map((ts, i) => ({
            eventId: `id${String(i).padStart(2, '0')}`,
            userId: d.users[i] ?? 'a',
            name: d.names[i] ?? 'view',
            ts,
            channelId: d.channels[i] ?? null,
            value: i % 3,
            attribution: d.attributions[i] ?? null,
          }))
          .map((e, i) => ({ e, k: d.order[i] ?? 0 }))
          .sort((a, b) => a.k - b.k)
          .map((x) => x.e);
        const sz = new Sessionizer(opts);
        const store = new MemorySessionStore({ checkVersions: true });
        let next = 0;
        for (let b = 0; next < events.length; b++) {
          const size = d.cuts[b] ?? events.length;
          await runBatch(sz, events.slice(next, next + size), store, 1_000 + b);
          next += size;
          expect(actualShapes(store.sessions.values())).toEqual(expectedShapes(events.slice(0, next), opts));
        }
      }),
      { numRuns: RUNS },
    );
  }, TIMEOUT_MS);
});
