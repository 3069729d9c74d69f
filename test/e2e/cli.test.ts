/**
 * The `sessions` command end to end: bin/sessions.js as a real child process,
 * on JSON-lines files in the field's shape
 *   {"event_name": "send_message", "timestamp": "2016-11-08T14:09:57Z", "user_id": "1", "channel_id": "1"}
 * checked against the independent brute-force reference (test/helpers/reference.ts),
 * and `sessions ingest` into the real service on Postgres.
 */
import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { derivedEventId } from '../helpers/derived-id.ts';
import { shuffleWithin } from '../helpers/events.ts';
import { gqlData } from '../helpers/graphql.ts';
import { referenceSessions, rng, type RefEvent, type RefRules } from '../helpers/reference.ts';
import { allSessions } from '../helpers/sessions.ts';
import { BIN, runCli, type CliRun } from '../helpers/cli.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

const GAP_MS = 30_000;
const LATENESS_MS = 60_000;
const RULES: RefRules = {
  gapMs: GAP_MS,
  maxDurationMs: 86_400_000,
  conversionEvents: ['purchase'],
  engagedMinDurationMs: 10_000,
  engagedMinEvents: 2,
};

/**
 * Like runCli, with stdout read only after `pauseMs` (a slow reader: the
 * pipe fills up), or closed after its first chunk when `pauseMs` is null
 * (`sessions sessionize ... | head -1`).
 */
function runCliSlowReader(args: string[], cwd: string, env: Record<string, string>, pauseMs: number | null): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    child.stdout.setEncoding('utf8');
    if (pauseMs === null) {
      child.stdout.once('data', (s: string) => {
        stdout = s;
        child.stdout.destroy();
      });
    } else {
      child.stdout.pause();
      setTimeout(() => child.stdout.on('data', (s: string) => (stdout += s)).resume(), pauseMs);
    }
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Runs `node bin/sessions.js ...args` with stdout to a file; resolves with the exit code and the file's text. */
function runCliToFile(args: string[], cwd: string, env: Record<string, string>, outFile: string): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const fd = openSync(outFile, 'w');
    const child = spawn(process.execPath, [BIN, ...args], { cwd, env: { ...process.env, ...env }, stdio: ['ignore', fd, 'pipe'] });
    closeSync(fd);
    let stderr = '';
    child.stderr?.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout: readFileSync(outFile, 'utf8'), stderr }));
  });
}

/** One line of the file and what it should become. */
type Line =
  | { kind: 'event'; event: RefEvent; text: string }
  | { kind: 'bad'; code: string; text: string }
  | { kind: 'blank'; text: string };

const NAMES = ['send_message', 'send_message', 'open_channel', 'react', 'purchase'];

/**
 * Users chatting in a few channels, timestamps to the second: gaps of 0 s
 * (ties, ordered by line), exactly the gap, gap + 1 s, shorter, and long
 * pauses. Returned in time order; line numbers are given later.
 */
function chat(random: () => number, users: number, perUser: number): Array<Omit<RefEvent, 'eventId'>> {
  const out: Array<Omit<RefEvent, 'eventId'>> = [];
  const start = Date.parse('2016-11-08T14:00:00Z');
  for (let u = 1; u <= users; u++) {
    let ts = start + Math.floor(random() * 600) * 1000;
    const n = 1 + Math.floor(random() * perUser);
    for (let i = 0; i < n; i++) {
      const name = NAMES[Math.floor(random() * NAMES.length)] as string;
      out.push({ userId: String(u), name, ts, channelId: String(1 + Math.floor(random() * random() * 6)), value: null });
      const pick = random();
      ts += 1000 * (pick < 0.1 ? 0 : pick < 0.2 ? 30 : pick < 0.3 ? 31 : pick < 0.9 ? Math.floor(random() * 30) : 60 + Math.floor(random() * 900));
    }
  }
  return out.sort((a, b) => a.ts - b.ts);
}

function lineOf(e: Omit<RefEvent, 'eventId'>): string {
  const ts = new Date(e.ts).toISOString().replace('.000Z', 'Z');
  return `{"event_name": "${e.name}", "timestamp": "${ts}", "user_id": "${e.userId}", "channel_id": "${e.channelId}"}`;
}

const BAD_LINES: Array<{ code: string; text: string }> = [
  { code: 'INVALID_JSON', text: '{"event_name": "send_message", "timestamp": ' },
  { code: 'INVALID_JSON', text: '["send_message", "2016-11-08T14:09:57Z", "1"]' },
  { code: 'MISSING_FIELD', text: '{"event_name": "send_message", "timestamp": "2016-11-08T14:09:57Z", "channel_id": "1"}' },
  { code: 'INVALID_TIMESTAMP', text: '{"event_name": "send_message", "timestamp": "2016-11-31T14:09:57Z", "user_id": "1"}' },
  { code: 'INVALID_TIMESTAMP', text: '{"event_name": "send_message", "timestamp": "yesterday", "user_id": "2"}' },
  { code: 'MISSING_FIELD', text: '{"timestamp": "2016-11-08T14:09:57Z", "user_id": "3", "channel_id": "1"}' },
];

/** The events shuffled within the lateness, with bad and blank lines in between. */
function buildFile(seed: number): Line[] {
  const random = rng(seed);
  const arrival = shuffleWithin(chat(random, 40, 120), LATENESS_MS, random);
  const lines: Line[] = arrival.map((e) => ({ kind: 'event', event: { ...e, eventId: '' }, text: lineOf(e) }));
  for (const bad of BAD_LINES) lines.splice(1 + Math.floor(random() * (lines.length - 1)), 0, { kind: 'bad', ...bad });
  lines.splice(Math.floor(random() * lines.length), 0, { kind: 'blank', text: '' });
  // Lines without an eventId get the service's derived one (identical lines are one event).
  for (const l of lines) {
    if (l.kind !== 'event') continue;
    const { properties, ...fields } = l.event;
    l.event.eventId = derivedEventId({ ...fields, properties: properties === undefined || properties === null ? null : JSON.stringify(properties) });
  }
  return lines;
}

const eventsOf = (lines: readonly Line[]): RefEvent[] => lines.flatMap((l) => (l.kind === 'event' ? [l.event] : []));
/** Events once each: a repeated (derived) eventId is a duplicate. */
const distinctCount = (events: readonly RefEvent[]): number => new Set(events.map((e) => e.eventId)).size;

/** What the issue compares: start, end, user, events, top channel and its count. */
interface Key {
  userId: string;
  startedAt: string;
  endedAt: string;
  eventCount: number;
  topChannel: string | null;
  topChannelCount: number | null;
}

function expectedKeys(all: readonly RefEvent[]): Key[] {
  const events = [...new Map(all.map((e) => [e.eventId, e])).values()];
  return sortKeys(
    referenceSessions(events, RULES).map((s) => {
      const inSession = events.filter((e) => e.userId === s.userId && e.ts >= s.startedAt && e.ts <= s.endedAt);
      return {
        userId: s.userId,
        startedAt: new Date(s.startedAt).toISOString(),
        endedAt: new Date(s.endedAt).toISOString(),
        eventCount: s.eventCount,
        topChannel: s.topChannel,
        topChannelCount: s.topChannel === null ? null : inSession.filter((e) => e.channelId === s.topChannel).length,
      };
    }),
  );
}

function sortKeys(keys: Key[]): Key[] {
  return keys.sort((a, b) => (a.userId < b.userId ? -1 : a.userId > b.userId ? 1 : a.startedAt < b.startedAt ? -1 : 1));
}

function keyOf(s: Record<string, unknown>): Key {
  return {
    userId: s['userId'] as string,
    startedAt: s['startedAt'] as string,
    endedAt: s['endedAt'] as string,
    eventCount: Number(s['eventCount']),
    topChannel: (s['topChannel'] as string | null) || null,
    topChannelCount: s['topChannelCount'] === null || s['topChannelCount'] === '' ? null : Number(s['topChannelCount']),
  };
}

/** A small RFC 4180 reader: quoted cells with doubled quotes. */
function parseCsv(text: string): Array<Record<string, string>> {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(cell);
      cell = '';
    } else if (c === '\n') {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
    } else cell += c;
  }
  const [header, ...body] = rows;
  return body.map((r) => Object.fromEntries((header as string[]).map((h, i) => [h, r[i] as string])));
}

/** `file:LINE: CODE` of every reported line, in order. */
function reportedLines(stderr: string, file: string): Array<{ line: number; code: string }> {
  return stderr
    .split('\n')
    .filter((l) => l.startsWith(`${file}:`))
    .map((l) => {
      const m = /^.*:(\d+): ([A-Z_]+) /.exec(l);
      if (m === null) throw new Error(`unexpected report ${JSON.stringify(l)}`);
      return { line: Number(m[1]), code: m[2] as string };
    });
}

function expectedReports(lines: readonly Line[]): Array<{ line: number; code: string }> {
  return lines.flatMap((l, i) => (l.kind === 'bad' ? [{ line: i + 1, code: l.code }] : []));
}

/** A port nothing listens on (it was free a moment ago). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'sessions-cli-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('sessions sessionize (child process)', () => {
  const lines = buildFile(7);
  const events = eventsOf(lines);
  const expected = expectedKeys(events);
  let file: string;
  beforeAll(() => {
    file = path.join(dir, 'chat.jsonl');
    writeFileSync(file, `${lines.map((l) => l.text).join('\n')}\n`);
  });

  it('gives exactly the brute-force reference sessions, and reports bad lines by number without stopping', async () => {
    expect(events.length).toBeGreaterThan(2_000);
    const run = await runCli(['sessionize', file, '--gap', '30s', '--lateness', '60s'], dir);
    expect(run.code, run.stderr).toBe(0);
    const sessions = run.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(sortKeys(sessions.map(keyOf))).toEqual(expected);
    expect(sessions.every((s) => s['status'] === 'CLOSED')).toBe(true);
    expect(new Set(sessions.map((s) => s['id'])).size).toBe(sessions.length);
    expect(reportedLines(run.stderr, file)).toEqual(expectedReports(lines));
    expect(run.stderr).toMatch(
      new RegExp(`sessionize: ${lines.length.toLocaleString('en-US')} lines, ${distinctCount(events).toLocaleString('en-US')} events, ${sessions.length.toLocaleString('en-US')} sessions`),
    );
  });

  it('gives the same on two threads (as for large files)', async () => {
    const run = await runCli(['sessionize', file, '--gap', '30s', '--lateness', '60s'], dir, { env: { SESSIONS_THREAD_MIN_BYTES: '0' } });
    expect(run.code, run.stderr).toBe(0);
    const sessions = run.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(sortKeys(sessions.map(keyOf))).toEqual(expected);
    expect(reportedLines(run.stderr, file)).toEqual(expectedReports(lines));
  });

  it('writes the same sessions on one thread or two, to a file, a slow reader or a fast one; stops quietly when the reader goes away', async () => {
    // Enough sessions (some 2 MB) to outgrow a pipe's buffer several times over.
    const big = path.join(dir, 'big.jsonl');
    writeFileSync(big, `${chat(rng(11), 400, 120).map(lineOf).join('\n')}\n`);
    const args = ['sessionize', big, '--gap', '30s', '--lateness', '60s'];
    const threads = { SESSIONS_THREAD_MIN_BYTES: '0' };
    // The same lines, ids included (they are derived from the sessions); the order
    // is the order sessions close in, which depends on how the input was cut.
    const sortedLines = (text: string): string[] => text.trimEnd().split('\n').sort();
    const one = await runCli(args, dir);
    expect(one.code, one.stderr).toBe(0);
    const fast = await runCli(args, dir, { env: threads });
    expect(fast.code, fast.stderr).toBe(0);
    expect(sortedLines(fast.stdout)).toEqual(sortedLines(one.stdout));
    const toFile = await runCliToFile(args, dir, threads, path.join(dir, 'out.jsonl'));
    expect(toFile.code, toFile.stderr).toBe(0);
    expect(toFile.stdout).toBe(fast.stdout);
    // The sessions outgrow the pipe's buffer while nobody reads: the writes must wait, not fail.
    expect(one.stdout.length).toBeGreaterThan(1 << 20);
    const slow = await runCliSlowReader(args, dir, threads, 500);
    expect(slow.code, slow.stderr).toBe(0);
    expect(slow.stdout).toBe(fast.stdout);
    const gone = await runCliSlowReader(args, dir, threads, null);
    expect(gone.code, gone.stderr).toBe(0);
    expect(gone.stderr).not.toMatch(/error/);
  });

  it('writes csv and json that parse back to the same sessions', async () => {
    const csv = await runCli(['sessionize', file, '--gap', '30s', '--lateness', '60s', '--format', 'csv'], dir);
    expect(csv.code, csv.stderr).toBe(0);
    const rows = parseCsv(csv.stdout);
    expect(sortKeys(rows.map(keyOf))).toEqual(expected);
    expect(JSON.parse(rows[0]?.['eventCounts'] ?? 'null')).toBeTypeOf('object');

    const json = await runCli(['sessionize', file, '--gap', '30s', '--lateness', '60s', '--format', 'json'], dir);
    expect(json.code, json.stderr).toBe(0);
    const parsed = JSON.parse(json.stdout) as Array<Record<string, unknown>>;
    expect(sortKeys(parsed.map(keyOf))).toEqual(expected);
  });

  it('reads stdin, and refuses events later than --lateness with LATE_EVENT', async () => {
    const text = [
      '{"event_name": "a", "timestamp": "2016-11-08T14:10:00Z", "user_id": "1"}',
      '{"event_name": "b", "timestamp": "2016-11-08T14:20:00Z", "user_id": "1"}',
      '{"event_name": "c", "timestamp": "2016-11-08T14:10:10Z", "user_id": "1"}',
    ].join('\n');
    const run = await runCli(['sessionize', '-', '--gap', '30s', '--lateness', '1m'], dir, { stdin: text });
    expect(run.code, run.stderr).toBe(0);
    expect(reportedLines(run.stderr, 'stdin')).toEqual([{ line: 3, code: 'LATE_EVENT' }]);
    expect(run.stderr).toContain('--lateness 590s would keep them');
    expect(run.stdout.trimEnd().split('\n')).toHaveLength(2);
  });

  it('says which forms of time a file may use when it refuses one', async () => {
    const text = ['{"event_name": "a", "timestamp": "yesterday", "user_id": "1"}', '{"event_name": "a", "timestamp": "", "user_id": "1"}'].join('\n');
    const run = await runCli(['sessionize', '-'], dir, { stdin: text });
    expect(run.code, run.stderr).toBe(0);
    expect(reportedLines(run.stderr, 'stdin')).toEqual([
      { line: 1, code: 'INVALID_TIMESTAMP' },
      { line: 2, code: 'INVALID_TIMESTAMP' },
    ]);
    // Not the service's "with an offset": a file's time may have none, or be epoch seconds or milliseconds.
    expect(run.stderr).toContain('stdin:1: INVALID_TIMESTAMP timestamp: "yesterday" is not an RFC 3339 date-time (the offset is optional) or epoch seconds or milliseconds');
  });

  it('exits 2 on a usage error and 1 on an unreadable input', async () => {
    const usage = await runCli(['sessionize', file, '--gap', 'soon'], dir);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('--gap "soon" is not a positive duration');
    const missing = await runCli(['sessionize', path.join(dir, 'nope.jsonl')], dir);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('no such file');
  });
});

describe('sessions ingest into the service', () => {
  let db: TestDatabase;
  let server: TestServer;
  const lines = buildFile(8);
  // Lines the CLI maps but the service refuses: their rejections come back by batch index.
  const huge = 'x'.repeat(17_000);
  lines.splice(1_234, 0, {
    kind: 'bad',
    code: 'PROPERTIES_TOO_LARGE',
    text: `{"event_name": "send_message", "timestamp": "2016-11-08T14:30:00Z", "user_id": "9", "channel_id": "1", "note": "${huge}"}`,
  });
  lines.push({ kind: 'bad', code: 'FUTURE_TIMESTAMP', text: '{"event_name": "send_message", "timestamp": "2999-01-01T00:00:00Z", "user_id": "9"}' });
  const events = eventsOf(lines);
  const distinct = distinctCount(events);
  const duplicates = events.length - distinct;
  let file: string;

  beforeAll(async () => {
    file = path.join(dir, 'export.jsonl');
    writeFileSync(file, `${lines.map((l) => l.text).join('\n')}\n`);
    db = await createTestDatabase();
    server = await startTestServer(db.url, { SESSION_GAP: '30s', UPDATE_INTERVAL: '0s' });
  });
  afterAll(async () => {
    await server?.stop();
    await db?.drop();
  });

  it('stores the reference sessions; a second run is all duplicates and changes nothing', async () => {
    const first = await runCli(['ingest', file, '--url', server.url, '--batch', '500', '--concurrency', '3'], dir);
    expect(first.code, first.stderr).toBe(0);
    // Service rejections are reported when their batch is answered, so after later local ones.
    const byLine = (a: { line: number }, b: { line: number }): number => a.line - b.line;
    expect(reportedLines(first.stderr, file).sort(byLine)).toEqual(expectedReports(lines));
    const bad = lines.length - events.length - 1; // the blank line is skipped, not rejected
    expect(first.stderr).toContain(
      `${distinct.toLocaleString('en-US')} accepted, ${duplicates} duplicates, ${bad} rejected`,
    );

    await gqlData(server.url, 'mutation { flushSessions { closed } }');
    const stored = await allSessions(server.url);
    const keys = stored.map((s) => {
      const channels = s['channels'] as Array<{ channelId: string; count: number }>;
      return keyOf({ ...s, topChannelCount: channels.find((c) => c.channelId === s['topChannel'])?.count ?? null });
    });
    expect(sortKeys(keys)).toEqual(expectedKeys(events));

    const again = await runCli(['ingest', file, '--url', server.url], dir);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toContain(`0 accepted, ${events.length.toLocaleString('en-US')} duplicates, ${bad} rejected`);
    // The same content gives the same ids, read from a file or from stdin.
    expect(await allSessions(server.url)).toEqual(stored);

    const text = `${lines.map((l) => l.text).join('\n')}\n`;
    const piped = await runCli(['ingest', '-', '--url', server.url, '--batch', '2000'], dir, { stdin: text });
    expect(piped.code, piped.stderr).toBe(0);
    expect(piped.stderr).toContain(`0 accepted, ${events.length.toLocaleString('en-US')} duplicates, ${bad} rejected`);
    expect(reportedLines(piped.stderr, 'stdin').map((r) => r.line).sort((a, b) => a - b)).toEqual(expectedReports(lines).map((r) => r.line));
    expect(await allSessions(server.url)).toEqual(stored);
  });

  it('waits as long as an overloaded service asks before each retry, and loses nothing', { timeout: 120_000 }, async () => {
    // Room for one batch only: while it is committed, the other batches in flight are refused (OVERLOADED),
    // with retryAfterMs 1,000 before the service's first commit (its own estimate afterwards).
    const own = await createTestDatabase();
    const tight = await startTestServer(own.url, { SESSION_GAP: '30s', MAX_BATCH_SIZE: '500', MAX_QUEUED_EVENTS: '500' });
    try {
      const run = await runCli(['ingest', file, '--url', tight.url, '--batch', '500', '--concurrency', '8', '--retries', '100'], dir);
      expect(run.code, run.stderr).toBe(0);
      const bad = lines.length - events.length - 1;
      expect(run.stderr).toContain(`${distinct.toLocaleString('en-US')} accepted, ${duplicates} duplicates, ${bad} rejected`);
      // "ingest: lines a-b: SERVICE_UNAVAILABLE: overloaded: ... retry in 1000 ms; retry 1 of 100 in 1.1 s"
      const retries = [...run.stderr.matchAll(/retry in (\d+) ms; retry \d+ of \d+ in ([\d.]+) s/g)].map((m) => ({
        askedMs: Number(m[1]),
        waitedMs: Number(m[2]) * 1_000,
      }));
      expect(retries.length, run.stderr).toBeGreaterThan(0);
      // The wait is printed to a tenth of a second.
      for (const r of retries) expect(r.waitedMs).toBeGreaterThanOrEqual(r.askedMs - 50);
      // The client's own first backoff is 0.25 s: the service's first hint (1 s) was followed.
      expect(retries.some((r) => r.askedMs >= 1_000 && r.waitedMs >= 950)).toBe(true);
    } finally {
      await tight.stop();
      await own.drop();
    }
  });

  it('exits 1 when the service cannot be reached, after its retries', async () => {
    const url = `http://127.0.0.1:${await closedPort()}/graphql`;
    const run = await runCli(['ingest', file, '--url', url, '--retries', '1'], dir);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('retry 1 of 1');
    expect(run.stderr).toContain(`sessions ingest: error: cannot reach ${url}: ECONNREFUSED; gave up after 2 attempts`);
  });

  it('exits 1 when the service refuses the key', async () => {
    const locked = await startTestServer(db.url, { INGEST_API_KEYS: 'right-key' });
    try {
      const run = await runCli(['ingest', file, '--url', locked.url, '--key', 'wrong-key'], dir);
      expect(run.code).toBe(1);
      expect(run.stderr).toContain('sessions ingest: error: UNAUTHENTICATED');
      expect(run.stderr).not.toContain('retry');
    } finally {
      await locked.stop();
    }
  });
});
