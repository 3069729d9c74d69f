// Session definitions end to end (DESIGN.md "Session definitions"): Flink's
// SESSION-window cookbook (403 responses per user and 10-second window) beside
// the default definition, over the same events through GraphQL; rebuilds
// after a restart while live events keep arriving; a removed definition.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { INGEST, randomBatches, shuffleWithin } from '../helpers/events.ts';
import { collect, gql, gqlData, wsClient } from '../helpers/graphql.ts';
import { referenceSessions, rng, type RefEvent, type RefRules } from '../helpers/reference.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { allSessions, comparable, roundValues, sessionFacts, sortSessions } from '../helpers/sessions.ts';

const START = Date.parse('2026-06-01T00:00:00Z');
const ENV = { SESSION_GAP: '5m', SESSION_MAX_DURATION: '1h', ALLOWED_LATENESS: '30s', UPDATE_INTERVAL: '0s' };
const DEFAULT_RULES: RefRules = { gapMs: 300_000, maxDurationMs: 3_600_000, conversionEvents: ['purchase'], engagedMinDurationMs: 10_000, engagedMinEvents: 2 };
const forbiddenRules = (gapMs: number): RefRules => ({ ...DEFAULT_RULES, gapMs });

/** A server-log line as an event: user, status code (number or string, as loggers differ), request line, time. */
interface LogEvent extends RefEvent {
  properties: { status_code: number | string; request: string };
}

/** Server logs: bursts of requests per user, a share of them 403, some 403s logged under another event name. */
function serverLog(users: number, perUser: number, random: () => number, prefix = 'r'): LogEvent[] {
  const out: LogEvent[] = [];
  for (let u = 0; u < users; u++) {
    let ts = START + Math.floor(random() * 60_000);
    for (let i = 0; i < perUser; i++) {
      const pick = random();
      const status = pick < 0.35 ? 403 : pick < 0.45 ? '403' : pick < 0.6 ? 404 : 200;
      out.push({
        eventId: `${prefix}-u${u}-${i}`,
        userId: `user-${u}`,
        name: random() < 0.9 ? 'http_request' : 'login',
        ts,
        channelId: random() < 0.5 ? 'web' : 'api',
        value: null,
        properties: { status_code: status, request: `GET /item/${Math.floor(random() * 50)} HTTP/1.1` },
      });
      const step = random();
      // Around the 10 s gap of `forbidden` (exactly 10 s joins, 10.001 s splits) and the 5 min of default.
      ts += step < 0.1 ? 10_000 : step < 0.2 ? 10_001 : step < 0.7 ? Math.floor(random() * 12_000) : step < 0.95 ? Math.floor(random() * 120_000) : 400_000;
    }
  }
  return out;
}

const input = (e: LogEvent) => ({
  eventId: e.eventId,
  userId: e.userId,
  name: e.name,
  timestamp: new Date(e.ts).toISOString(),
  channelId: e.channelId,
  properties: e.properties,
});

/** The brute-force reading of the cookbook's filter: name http_request and status 403, as a number or a string. */
const isForbidden = (e: LogEvent): boolean => e.name === 'http_request' && String(e.properties.status_code) === '403';

function definitionsFile(dir: string, forbiddenGap: string, extra: unknown[] = []): string {
  const file = path.join(dir, `definitions-${forbiddenGap}-${extra.length}.json`);
  writeFileSync(
    file,
    JSON.stringify({
      definitions: [
        { name: 'default' },
        { name: 'forbidden', gap: forbiddenGap, maxDuration: '1h', filter: { names: ['http_request'], properties: { status_code: ['403'] } } },
        ...extra,
      ],
    }),
  );
  return file;
}

async function ingestAll(url: string, events: LogEvent[], random: () => number): Promise<void> {
  for (const batch of randomBatches(shuffleWithin(events, 20_000, random), 40, random)) {
    const result = await gqlData(url, INGEST, { events: batch.map(input) });
    expect(result['ingestEvents'].rejected).toEqual([]);
  }
}

async function sessionsOf(url: string, definition: string) {
  return sortSessions(roundValues((await allSessions(url, {}, definition)).map(comparable)));
}

const expected = (events: LogEvent[], rules: RefRules) => roundValues(referenceSessions(events, rules));

async function definitionStates(url: string): Promise<Record<string, { status: string; gapSeconds: number; progress: number | null }>> {
  const data = await gqlData(url, '{ definitions { name status gapSeconds progress } }');
  return Object.fromEntries(data['definitions'].map((d: any) => [d.name, d]));
}

/** Polls the definitions query until `name` has `status` (a generous deadline, no fixed sleep). */
async function waitForStatus(url: string, name: string, status: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if ((await definitionStates(url))[name]?.status === status) return;
    if (Date.now() > deadline) throw new Error(`definition ${name} did not become ${status}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('session definitions', () => {
  let db: TestDatabase;
  let dir: string;
  let server: TestServer | undefined;
  const env = (file: string | null, more: Record<string, string> = {}) => ({ ...ENV, ...(file === null ? {} : { SESSION_DEFINITIONS: file }), ...more });

  beforeAll(async () => {
    db = await createTestDatabase();
    dir = mkdtempSync(path.join(tmpdir(), 'sessions-definitions-'));
  });
  afterAll(async () => {
    await server?.stop();
    await db?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('cuts the cookbook definition (403s, 10 s gap) and the default one from the same events, each equal to the reference', async () => {
    const random = rng(403);
    server = await startTestServer(db.url, env(definitionsFile(dir, '10s')));
    await waitForStatus(server.url, 'forbidden', 'READY');
    const states = await definitionStates(server.url);
    expect(states['default']).toMatchObject({ status: 'READY', gapSeconds: 300, progress: null });
    expect(states['forbidden']).toMatchObject({ status: 'READY', gapSeconds: 10 });

    const client = wsClient(server.wsUrl);
    const started = collect(client, 'subscription { sessionStarted(definition: "forbidden") { id definition } }');
    const events = serverLog(12, 60, random);
    await ingestAll(server.url, events, random);

    const forbidden = expected(events.filter(isForbidden), forbiddenRules(10_000));
    expect(forbidden.length).toBeGreaterThan(20);
    expect(await sessionsOf(server.url, 'forbidden')).toEqual(forbidden);
    expect(await sessionsOf(server.url, 'default')).toEqual(expected(events, DEFAULT_RULES));

    // Per user and window, the 403 count (the cookbook's query) is each session's eventCount.
    const stats = await gqlData(server.url, '{ engagementStats(definition: "forbidden") { sessions events } }');
    expect(stats['engagementStats']).toEqual({ sessions: forbidden.length, events: events.filter(isForbidden).length });
    await started.waitFor(1);
    expect(started.items.every((s: any) => s.definition === 'forbidden')).toBe(true);
    started.stop();
    await client.dispose();

    if (db.url !== null) {
      // The SQL views carry the definition too: one row per session of each definition's shown build.
      const sql = new pg.Client({ connectionString: db.url });
      await sql.connect();
      try {
        const rows = await sql.query(`SELECT definition, count(*)::int AS n, sum(event_count)::int AS events FROM analytics.sessions GROUP BY 1 ORDER BY 1`);
        expect(rows.rows).toEqual([
          { definition: 'default', n: expected(events, DEFAULT_RULES).length, events: events.length },
          { definition: 'forbidden', n: forbidden.length, events: events.filter(isForbidden).length },
        ]);
        const days = await sql.query(`SELECT definition, sum(sessions)::int AS n FROM analytics.daily_engagement GROUP BY 1 ORDER BY 1`);
        expect(days.rows.map((r) => r.n)).toEqual(rows.rows.map((r) => r.n));
      } finally {
        await sql.end();
      }
    }

    const page = await gqlData(server.url, '{ sessions(definition: "forbidden", first: 1) { nodes { id definition } } }');
    const one = page['sessions'].nodes[0];
    expect(one.definition).toBe('forbidden');
    expect((await gqlData(server.url, `{ session(id: "${one.id}") { definition } }`))['session']).toEqual({ definition: 'forbidden' });

    for (const query of [
      '{ sessions(definition: "nope") { totalCount } }',
      '{ engagementStats(definition: "nope") { sessions } }',
      '{ topUsers(definition: "nope") { userId } }',
    ]) {
      const result = await gql(server.url, query);
      expect(result.errors?.[0]?.extensions?.['code']).toBe('UNKNOWN_DEFINITION');
    }
    const ws = wsClient(server.wsUrl);
    const refused = collect(ws, 'subscription { sessionClosed(definition: "nope") { id } }');
    await refused.ended;
    expect(JSON.stringify(refused.errors)).toMatch(/UNKNOWN_DEFINITION|no session definition/);
    await ws.dispose();
    await server.stop();
    server = undefined;
  });

  it('builds an added definition after a restart while live events arrive, and replaces a changed one only once complete', async () => {
    const random = rng(14);
    const db2 = await createTestDatabase();
    try {
      // 1. Default alone: history.
      const history = serverLog(15, 50, random, 'h');
      server = await startTestServer(db2.url, env(null));
      await ingestAll(server.url, history, random);
      await server.stop();

      // 2. `forbidden` added; the build runs in small steps while live events keep coming.
      const live = serverLog(15, 30, random, 'l').map((e) => ({ ...e, ts: e.ts + 20 * 60_000 }));
      server = await startTestServer(db2.url, env(definitionsFile(dir, '10s'), { DEFINITION_BUILD_STEP_EVENTS: '40' }));
      const building = await definitionStates(server.url);
      expect(building['forbidden']?.status).toBe('BUILDING');
      await ingestAll(server.url, live, random);
      await waitForStatus(server.url, 'forbidden', 'READY');
      const all = [...history, ...live];
      expect(await sessionsOf(server.url, 'forbidden')).toEqual(expected(all.filter(isForbidden), forbiddenRules(10_000)));
      expect(await sessionsOf(server.url, 'default')).toEqual(expected(all, DEFAULT_RULES));
      await server.stop();

      // 3. Its gap changes: until the new build completes, the old sessions are what the API shows.
      const old = expected(all.filter(isForbidden), forbiddenRules(10_000));
      server = await startTestServer(db2.url, env(definitionsFile(dir, '30s'), { DEFINITION_BUILD_STEP_EVENTS: '10' }));
      const more = serverLog(15, 10, random, 'm').map((e) => ({ ...e, ts: e.ts + 40 * 60_000 }));
      const ingesting = ingestAll(server.url, more, random);
      let sawOld = 0;
      for (;;) {
        const shown = await sessionsOf(server.url, 'forbidden');
        const status = (await definitionStates(server.url))['forbidden']?.status;
        if (status !== 'BUILDING') break;
        // Read while it was still building (the switch is one transaction): the old build, whole and unchanged.
        expect(shown).toEqual(old);
        sawOld++;
      }
      expect(sawOld).toBeGreaterThan(0);
      await ingesting;
      await waitForStatus(server.url, 'forbidden', 'READY');
      const everything = [...all, ...more];
      expect(await sessionsOf(server.url, 'forbidden')).toEqual(expected(everything.filter(isForbidden), forbiddenRules(30_000)));
      expect(await sessionsOf(server.url, 'default')).toEqual(expected(everything, DEFAULT_RULES));
      const final = await sessionsOf(server.url, 'forbidden');
      // The replaced build's sessions are gone, and so are their facts (the analytics' copy).
      if (db2.url !== null) {
        const facts = await sessionFacts(db2.url);
        expect(facts.stored).toEqual(facts.expected);
      }
      await server.stop();

      // 4. Removed from the file: RETIRED, still readable, nothing new added.
      server = await startTestServer(db2.url, env(null));
      expect((await definitionStates(server.url))['forbidden']?.status).toBe('RETIRED');
      await ingestAll(server.url, serverLog(3, 5, random, 'x').map((e) => ({ ...e, ts: e.ts + 60 * 60_000 })), random);
      expect(await sessionsOf(server.url, 'forbidden')).toEqual(final);
      await server.stop();
      server = undefined;
    } finally {
      await db2.drop();
    }
  });
});
