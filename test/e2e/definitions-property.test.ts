// Property: two or three random session definitions with overlapping filters,
// over random events sent in random arrival orders and batches (late events,
// duplicates), each equal to the brute-force reference over the events its
// filter matches (DESIGN.md "Session definitions").
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../helpers/database.ts';
import { generateEvents, INGEST, randomBatches, shuffle, shuffleWithin } from '../helpers/events.ts';
import { gqlData } from '../helpers/graphql.ts';
import { referenceSessions, rng, type RefEvent, type RefRules } from '../helpers/reference.ts';
import { startTestServer } from '../helpers/server.ts';
import { allSessions, comparable, prevStartMismatches, roundValues, sessionFacts, sortSessions } from '../helpers/sessions.ts';

const GAP_MS = 60_000;
const DEFAULT_RULES: RefRules = { gapMs: GAP_MS, maxDurationMs: 600_000, conversionEvents: ['purchase'], engagedMinDurationMs: 10_000, engagedMinEvents: 2 };
const NAMES = ['page_view', 'send_message', 'click', 'purchase'];
const CHANNELS = ['web', 'ios', 'android'];
const KINDS = ['a', 'b', 'c'];

interface RandomDefinition {
  readonly name: string;
  readonly file: Record<string, unknown>;
  readonly rules: RefRules;
  /** The brute-force reading of its filter. */
  readonly matches: (e: RefEvent) => boolean;
}

const pick = <T,>(items: readonly T[], random: () => number): T[] => {
  const chosen = items.filter(() => random() < 0.5);
  return chosen.length > 0 ? chosen : [items[Math.floor(random() * items.length)] as T];
};

/** A definition with a random gap and maximum, and a random filter on names, channels and/or a property. */
function randomDefinition(name: string, random: () => number): RandomDefinition {
  const gapMs = [5_000, 30_000, GAP_MS, 120_000][Math.floor(random() * 4)] as number;
  const maxDurationMs = gapMs * (3 + Math.floor(random() * 8));
  const names = random() < 0.5 ? pick(NAMES, random) : null;
  const channels = random() < 0.5 ? pick(CHANNELS, random) : null;
  const kinds = random() < 0.6 ? pick(KINDS, random) : null;
  const filter: Record<string, unknown> = {};
  if (names !== null) filter['names'] = names;
  if (channels !== null) filter['channels'] = channels;
  // `level` is a number in the events: values compare as strings.
  if (kinds !== null) filter['properties'] = { 'meta.kind': kinds, ...(random() < 0.3 ? { level: ['1', '2'] } : {}) };
  const levels = (filter['properties'] as Record<string, unknown> | undefined)?.['level'] as string[] | undefined;
  return {
    name,
    file: { name, gap: `${gapMs / 1_000}s`, maxDuration: `${maxDurationMs / 1_000}s`, ...(Object.keys(filter).length > 0 ? { filter } : {}) },
    rules: { ...DEFAULT_RULES, gapMs, maxDurationMs },
    matches: (e) => {
      const p = e.properties as { meta?: { kind?: string }; level?: number } | null | undefined;
      if (names !== null && !names.includes(e.name)) return false;
      if (channels !== null && (e.channelId == null || !channels.includes(e.channelId))) return false;
      if (kinds !== null && (p?.meta?.kind === undefined || !kinds.includes(p.meta.kind))) return false;
      if (levels !== undefined && (p?.level === undefined || !levels.includes(String(p.level)))) return false;
      return true;
    },
  };
}

function randomEvents(random: () => number): RefEvent[] {
  const base = generateEvents({ users: 12, eventsPerUser: 40, startMs: Date.parse('2026-05-01T00:00:00Z'), gapMs: 30_000, maxDurationMs: 300_000, random });
  return base.map((e) => ({
    ...e,
    name: NAMES[Math.floor(random() * NAMES.length)] as string,
    channelId: random() < 0.85 ? (CHANNELS[Math.floor(random() * CHANNELS.length)] as string) : null,
    properties: random() < 0.9 ? { meta: { kind: KINDS[Math.floor(random() * KINDS.length)] }, level: Math.floor(random() * 3) } : null,
  }));
}

const input = (e: RefEvent) => ({
  eventId: e.eventId,
  userId: e.userId,
  name: e.name,
  timestamp: new Date(e.ts).toISOString(),
  channelId: e.channelId ?? null,
  value: e.value ?? null,
  properties: e.properties ?? null,
});

describe('random overlapping definitions equal the reference per definition', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'sessions-definitions-property-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each([1, 2, 3])('seed %i', async (seed) => {
    const random = rng(seed * 7_919);
    const definitions = [randomDefinition('first', random), randomDefinition('second', random), ...(random() < 0.5 ? [randomDefinition('third', random)] : [])];
    const file = path.join(dir, `definitions-${seed}.json`);
    writeFileSync(file, JSON.stringify({ definitions: [{ name: 'default' }, ...definitions.map((d) => d.file)] }));
    const db = await createTestDatabase();
    const server = await startTestServer(db.url, { SESSION_DEFINITIONS: file, SESSION_GAP: '1m', SESSION_MAX_DURATION: '10m', ALLOWED_LATENESS: '0s' });
    try {
      const events = randomEvents(random);
      const sorted = [...events].sort((a, b) => a.ts - b.ts);
      // Mostly in time order with late stragglers, or any order at all; a share of duplicates.
      const arrival = seed % 2 === 0 ? shuffle(events, random) : shuffleWithin(sorted, 120_000, random);
      const withDuplicates = [...arrival, ...arrival.filter(() => random() < 0.1)];
      for (const batch of randomBatches(withDuplicates, 30, random)) await gqlData(server.url, INGEST, { events: batch.map(input) });

      for (const definition of [{ name: 'default', rules: DEFAULT_RULES, matches: () => true }, ...definitions]) {
        const stored = sortSessions(roundValues((await allSessions(server.url, {}, definition.name)).map(comparable)));
        const expected = roundValues(referenceSessions(events.filter(definition.matches), definition.rules));
        expect(expected.length).toBeGreaterThan(0);
        expect({ definition: definition.name, sessions: stored }).toEqual({ definition: definition.name, sessions: expected });
      }
      // Each session of each build links to its user's previous one (the analytics count users by it).
      if (db.url !== null) {
        expect(await prevStartMismatches(db.url)).toEqual([]);
        // The analytics' copy holds exactly the closed sessions, with their values.
        const facts = await sessionFacts(db.url);
        expect(facts.expected.length).toBeGreaterThan(0);
        expect(facts.stored).toEqual(facts.expected);
      }
    } finally {
      await server.stop();
      await db.drop();
    }
  });
});
