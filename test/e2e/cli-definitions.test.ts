/**
 * `sessions sessionize --definitions FILE` end to end: bin/sessions.js as a
 * real child process over server-log lines (Flink's SESSION-window cookbook:
 * each user's 403 responses per 10-second window) with a definitions file in
 * the service's format. Each definition's sessions are compared with the
 * brute-force reference over the events an independent filter (written
 * here, not src/definitions) lets in.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.ts';
import { referenceSessions, rng, type RefEvent, type RefRules } from '../helpers/reference.ts';


const BASE: Omit<RefRules, 'gapMs'> = { maxDurationMs: 86_400_000, conversionEvents: ['purchase'], engagedMinDurationMs: 10_000, engagedMinEvents: 2 };
/** The command line's --gap: the default of every definition that does not set one. */
const DEFAULT_RULES: RefRules = { ...BASE, gapMs: 30_000 };
const FORBIDDEN_RULES: RefRules = { ...BASE, gapMs: 10_000, maxDurationMs: 3_600_000 };
const ADMIN_RULES: RefRules = { ...BASE, gapMs: 60_000 };

const DEFINITIONS = {
  definitions: [
    { name: 'default' },
    { name: 'forbidden', gap: '10s', maxDuration: '1h', filter: { names: ['http_request'], properties: { status_code: ['403'] } } },
    { name: 'admin', gap: '1m', filter: { properties: { 'request.path': ['/admin', '/admin/users'] } } },
  ],
};

interface LogEvent extends RefEvent {
  status: number | string | null;
  path: string | null;
}

/** Requests of 30 users, a second to 40 s apart; statuses 200/403/404 (403 as a number or a string), some page views without one. */
function serverLog(seed: number): LogEvent[] {
  const random = rng(seed);
  const out: LogEvent[] = [];
  const start = Date.parse('2026-03-01T10:00:00Z');
  const paths = ['/', '/admin', '/admin/users', '/login', '/api/items'];
  for (let u = 0; u < 30; u++) {
    let ts = start + Math.floor(random() * 120) * 1000;
    const n = 5 + Math.floor(random() * 60);
    for (let i = 0; i < n; i++) {
      const request = random() < 0.85;
      const pick = random();
      const status = !request ? null : pick < 0.4 ? 403 : pick < 0.55 ? '403' : pick < 0.8 ? 200 : 404;
      const p = request ? (paths[Math.floor(random() * paths.length)] as string) : null;
      out.push({ eventId: `e${u}-${i}`, userId: `user-${u}`, name: request ? 'http_request' : 'page_view', ts, channelId: null, value: null, status, path: p });
      const gap = random();
      ts += 1000 * (gap < 0.5 ? 1 + Math.floor(random() * 9) : gap < 0.6 ? 10 : gap < 0.7 ? 11 : gap < 0.9 ? 12 + Math.floor(random() * 48) : 61 + Math.floor(random() * 300));
    }
  }
  return out.sort((a, b) => a.ts - b.ts || (a.eventId < b.eventId ? -1 : 1));
}

/** A server-log line: the keys the CLI does not map (status_code, request) are the event's properties (docs/cli.md). */
function lineOf(e: LogEvent): string {
  const line: Record<string, unknown> = { event_id: e.eventId, user_id: e.userId, event_name: e.name, timestamp: new Date(e.ts).toISOString() };
  if (e.status !== null) line['status_code'] = e.status;
  if (e.path !== null) line['request'] = { method: 'GET', path: e.path };
  return JSON.stringify(line);
}

interface Key {
  definition: string;
  userId: string;
  startedAt: string;
  endedAt: string;
  eventCount: number;
}

function expected(events: readonly LogEvent[]): Key[] {
  const of = (definition: string, rules: RefRules, keep: (e: LogEvent) => boolean): Key[] =>
    referenceSessions(events.filter(keep), rules).map((s) => ({
      definition,
      userId: s.userId,
      startedAt: new Date(s.startedAt).toISOString(),
      endedAt: new Date(s.endedAt).toISOString(),
      eventCount: s.eventCount,
    }));
  return sorted([
    ...of('default', DEFAULT_RULES, () => true),
    ...of('forbidden', FORBIDDEN_RULES, (e) => e.name === 'http_request' && String(e.status) === '403'),
    ...of('admin', ADMIN_RULES, (e) => e.path === '/admin' || e.path === '/admin/users'),
  ]);
}

function sorted(keys: Key[]): Key[] {
  const text = (k: Key) => `${k.definition}\u0000${k.userId}\u0000${k.startedAt}`;
  return keys.sort((a, b) => (text(a) < text(b) ? -1 : 1));
}

const keyOf = (s: Record<string, unknown>): Key => ({
  definition: s['definition'] as string,
  userId: s['userId'] as string,
  startedAt: s['startedAt'] as string,
  endedAt: s['endedAt'] as string,
  eventCount: Number(s['eventCount']),
});

describe('sessions sessionize --definitions', () => {
  let dir: string;
  const events = serverLog(403);
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'sessions-cli-defs-'));
    writeFileSync(path.join(dir, 'access.jsonl'), `${events.map(lineOf).join('\n')}\n`);
    writeFileSync(path.join(dir, 'definitions.json'), JSON.stringify(DEFINITIONS));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each([
    ['one thread', {}],
    ['two threads', { SESSIONS_THREAD_MIN_BYTES: '0' }],
  ])('cuts each definition as the reference does over the events its filter takes, tagged (%s)', async (_, env) => {
    const run = await runCli(['sessionize', 'access.jsonl', '--gap', '30s', '--definitions', 'definitions.json'], dir, { env });
    expect(run.code, run.stderr).toBe(0);
    const sessions = run.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const want = expected(events);
    // The filters matter: the forbidden windows are a real subset, and both kinds of 403 count.
    const forbidden = want.filter((k) => k.definition === 'forbidden');
    expect(forbidden.length).toBeGreaterThan(50);
    expect(forbidden.reduce((n, k) => n + k.eventCount, 0)).toBeLessThan(events.length * 0.7);
    expect(sorted(sessions.map(keyOf))).toEqual(want);
    expect(new Set(sessions.map((s) => s['id'])).size).toBe(sessions.length);
  });

  it('keeps the untagged output and ids for default, and tags csv with a definition column', async () => {
    const plain = await runCli(['sessionize', 'access.jsonl', '--gap', '30s'], dir);
    const tagged = await runCli(['sessionize', 'access.jsonl', '--gap', '30s', '--definitions', 'definitions.json', '--format', 'csv'], dir);
    expect([plain.code, tagged.code]).toEqual([0, 0]);
    const [header, ...rows] = tagged.stdout.trimEnd().split('\n');
    expect(header?.split(',').slice(0, 3)).toEqual(['id', 'definition', 'userId']);
    const defaultIds = rows.filter((r) => r.split(',')[1] === 'default').map((r) => r.split(',')[0]);
    const plainIds = plain.stdout
      .trimEnd()
      .split('\n')
      .map((l) => (JSON.parse(l) as { id: string }).id);
    expect(defaultIds.sort()).toEqual(plainIds.sort());
    expect(new Set(rows.map((r) => r.split(',')[1]))).toEqual(new Set(['default', 'forbidden', 'admin']));
  });

  it('refuses a bad definitions file with one line naming the file, the definition and the field, exit 1', async () => {
    writeFileSync(path.join(dir, 'bad.json'), JSON.stringify({ definitions: [{ name: 'mobile', gap: '5x' }] }));
    const run = await runCli(['sessionize', 'access.jsonl', '--definitions', 'bad.json'], dir);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    const lines = run.stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/bad\.json.*mobile.*gap/);
  });
});
