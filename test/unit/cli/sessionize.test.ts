import { PassThrough } from 'node:stream';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readLineChunks } from '../../../src/cli/line-reader.ts';
import { SessionWriter } from '../../../src/cli/session-output.ts';
import { sessionizeLines, type SessionizeOptions } from '../../../src/cli/sessionize.ts';
import { referenceSessions } from '../../../src/sessionizer/reference.ts';
import type { SessionEvent } from '../../../src/sessionizer/types.ts';

const RUNS = Number(process.env['PROP_RUNS'] ?? 300);
const T0 = Date.parse('2016-11-08T14:00:00Z');

/** Small numbers (seconds) so that gaps, MAX_DURATION cuts, ties and late lines all happen often. */
function options(latenessMs: number): SessionizeOptions {
  return {
    gapMs: 10_000,
    maxDurationMs: 35_000,
    conversionEvents: new Set(['buy']),
    engagedMinDurationMs: 8_000,
    engagedMinEvents: 3,
    latenessMs,
  };
}

interface Run {
  sessions: Array<Record<string, any>>;
  reports: Array<[number, string]>;
  summary: Awaited<ReturnType<typeof sessionizeLines>>;
}

async function sessionize(text: string, opts: SessionizeOptions, chunkBytes = 64): Promise<Run> {
  const out = new PassThrough();
  let jsonl = '';
  out.on('data', (b: Buffer) => (jsonl += b.toString()));
  const bytes = Buffer.from(text);
  // Arbitrary read sizes: readLineChunks has to put lines cut between reads back together.
  const reads = (async function* () {
    for (let i = 0; i < bytes.length; i += chunkBytes) yield bytes.subarray(i, i + chunkBytes);
  })();
  const reports: Array<[number, string]> = [];
  const summary = await sessionizeLines(readLineChunks(reads), new SessionWriter(out, 'jsonl', opts), opts, (n, r) =>
    reports.push([n, r.code]),
  );
  return { sessions: jsonl.trimEnd().split('\n').filter(Boolean).map((l) => JSON.parse(l)), reports, summary };
}

const rawArb = fc.record({
  user: fc.constantFrom('1', '2', '3'),
  // On a 5 s grid: exact gaps (10 s) and exact maximum durations (35 s) are common.
  second: fc.integer({ min: 0, max: 30 }).map((n) => n * 5),
  name: fc.constantFrom('view', 'click', 'buy'),
  channel: fc.constantFrom(null, 'x', 'y', 'z'),
  value: fc.constantFrom(null, 0, 1.5, 2),
  /** Whether the line carries its own eventId (a repeat of such a line is a duplicate). */
  ownId: fc.boolean(),
  jitter: fc.integer({ min: 0, max: 25 }),
  /** The same line a second time, later in the file (an export that repeats itself). */
  repeat: fc.boolean(),
});

type Raw = typeof rawArb extends fc.Arbitrary<infer T> ? T : never;

function lineOf(r: Raw, i: number): string {
  const fields: string[] = [
    `"event_name": "${r.name}"`,
    `"timestamp": "${new Date(T0 + r.second * 1000).toISOString()}"`,
    `"user_id": ${r.user === '3' ? 3 : `"${r.user}"`}`,
  ];
  if (r.channel !== null) fields.push(`"channel_id": "${r.channel}"`);
  if (r.value !== null) fields.push(`"purchase_value": ${r.value}`);
  if (r.ownId) fields.push(`"event_id": "e${i}"`);
  return `{${fields.join(', ')}}`;
}

/**
 * The file: events in time order, each delayed by its jitter (seconds), plus
 * repeated lines. Returns the lines and the events the reference should see:
 * every line not more than `lateness` behind the newest admitted one, a
 * repeated eventId dropped, lines without one ordered by line number (so a
 * repeated line without an id is a second event).
 */
function scenario(raws: Raw[], latenessMs: number): { text: string; events: SessionEvent[]; late: number[] } {
  const keyed = raws.flatMap((r, i) => {
    const at = r.second + r.jitter;
    return r.repeat ? [{ r, at, i }, { r, at: at + 20, i }] : [{ r, at, i }];
  });
  keyed.sort((a, b) => a.at - b.at || a.i - b.i);
  const events: SessionEvent[] = [];
  const late: number[] = [];
  let newest = -Infinity;
  const seen = new Set<string>();
  keyed.forEach(({ r, i }, k) => {
    const ts = T0 + r.second * 1000;
    const line = k + 1;
    if (ts < newest - latenessMs) {
      late.push(line);
      return;
    }
    newest = Math.max(newest, ts);
    const eventId = r.ownId ? `e${i}` : `line:${String(line).padStart(12, '0')}`;
    if (seen.has(eventId)) return; // a repeat of a line with its own id: a duplicate
    seen.add(eventId);
    events.push({
      eventId,
      userId: r.user,
      name: r.name,
      ts,
      channelId: r.channel,
      value: r.value,
    });
  });
  return { text: keyed.map(({ r, i }) => lineOf(r, i)).join('\n'), events, late };
}

function shape(s: Record<string, any>) {
  return {
    userId: s['userId'],
    startedAt: s['startedAt'],
    endedAt: s['endedAt'],
    eventCount: s['eventCount'],
    eventCounts: s['eventCounts'],
    topChannel: s['topChannel'],
    topChannelCount: s['topChannelCount'],
    channels: s['channels'],
    totalValue: s['totalValue'],
    converted: s['converted'],
    engaged: s['engaged'],
    bounced: s['bounced'],
    durationSeconds: s['durationSeconds'],
    firstEventName: s['firstEventName'],
    lastEventName: s['lastEventName'],
    cut: s['closeReason'] === 'MAX_DURATION',
  };
}

function expected(events: SessionEvent[], opts: SessionizeOptions) {
  return referenceSessions(events, opts).map((s) => ({
    userId: s.userId,
    startedAt: new Date(s.startedAt).toISOString(),
    endedAt: new Date(s.endedAt).toISOString(),
    eventCount: s.eventCount,
    eventCounts: s.eventCounts,
    topChannel: s.topChannel,
    topChannelCount: s.topChannel === null ? null : (s.channels[s.topChannel]?.count ?? null),
    channels: Object.fromEntries(Object.entries(s.channels).map(([id, c]) => [id, c.count])),
    totalValue: s.totalValue,
    converted: s.converted,
    engaged: s.engaged,
    bounced: s.bounced,
    durationSeconds: s.durationMs / 1000,
    firstEventName: s.firstEventName,
    lastEventName: s.lastEventName,
    cut: s.cutAfter,
  }));
}

const byUserThenStart = (a: { userId: string; startedAt: string }, b: { userId: string; startedAt: string }): number =>
  a.userId < b.userId ? -1 : a.userId > b.userId ? 1 : a.startedAt < b.startedAt ? -1 : 1;

describe('sessionizeLines', () => {
  it("gives the core's reference sessions for any file, order within the lateness, duplicates and late lines", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(rawArb, { minLength: 1, maxLength: 80, size: 'max' }),
        fc.constantFrom(0, 4_500, 5_000, 30_000, Number.POSITIVE_INFINITY),
        fc.integer({ min: 1, max: 200 }),
        async (raws, latenessMs, chunkBytes) => {
          const opts = options(latenessMs);
          const { text, events, late } = scenario(raws, latenessMs);
          const run = await sessionize(text, opts, chunkBytes);
          // Maps keep integer-like keys in ascending order; compare channels as entries.
          const norm = (x: ReturnType<typeof shape>) => ({ ...x, channels: Object.entries(x.channels).sort() });
          expect(run.sessions.map(shape).sort(byUserThenStart).map(norm)).toEqual(expected(events, opts).sort(byUserThenStart).map(norm));
          expect(run.reports).toEqual(late.map((n) => [n, 'LATE_EVENT']));
          expect(run.summary.events + run.summary.duplicates + late.length).toBe(text.split('\n').length);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('gives the reference sessions for thousands of users (the open map is rebuilt now and then)', async () => {
    let seed = 7;
    const random = (): number => ((seed = (Math.imul(seed, 1_103_515_245) + 12_345) >>> 0) / 4_294_967_296);
    const raws: Array<{ user: string; ts: number; name: string; channel: string }> = [];
    for (let u = 1; u <= 12_000; u++) {
      let ts = T0 + Math.floor(random() * 3_600) * 1000;
      for (let i = 0; i < 4; i++) {
        raws.push({ user: String(u), ts, name: random() < 0.5 ? 'view' : 'buy', channel: String(Math.floor(random() * 4)) });
        // Gaps around the 10 s gap, and now and then a long pause; sessions reach the 35 s maximum too.
        ts += 1000 * (random() < 0.8 ? Math.floor(random() * 12) : 60 + Math.floor(random() * 600));
      }
    }
    raws.sort((a, b) => a.ts - b.ts);
    const opts = options(30_000);
    const text = raws
      .map((r) => `{"event_name": "${r.name}", "timestamp": "${new Date(r.ts).toISOString()}", "user_id": "${r.user}", "channel_id": "${r.channel}"}`)
      .join('\n');
    const events: SessionEvent[] = raws.map((r, i) => ({
      eventId: `line:${String(i + 1).padStart(12, '0')}`,
      userId: r.user,
      name: r.name,
      ts: r.ts,
      channelId: r.channel,
      value: null,
    }));
    const run = await sessionize(text, opts, 4_096);
    const norm = (x: ReturnType<typeof shape>) => ({ ...x, channels: Object.entries(x.channels).sort() });
    expect(run.sessions.length).toBeGreaterThan(10_000);
    expect(run.sessions.map(shape).sort(byUserThenStart).map(norm)).toEqual(expected(events, opts).sort(byUserThenStart).map(norm));
  });

  it('gives the reference sessions when a few sessions stay open for long (the activity queue drops stale entries)', async () => {
    const opts: SessionizeOptions = { ...options(0), gapMs: 7_200_000, maxDurationMs: 86_400_000 };
    const raws: Array<{ user: string; ts: number }> = [{ user: 'a', ts: T0 }];
    // b and c every second for five hours, a once: a's session is the oldest open one for two hours.
    for (let i = 1; i <= 18_000; i++) raws.push({ user: i % 2 === 0 ? 'b' : 'c', ts: T0 + i * 1000 });
    raws.push({ user: 'a', ts: T0 + 20_000_000 });
    const text = raws.map((r) => `{"event_name": "view", "timestamp": "${new Date(r.ts).toISOString()}", "user_id": "${r.user}"}`).join('\n');
    const events: SessionEvent[] = raws.map((r, i) => ({
      eventId: `line:${String(i + 1).padStart(12, '0')}`,
      userId: r.user,
      name: 'view',
      ts: r.ts,
      channelId: null,
      value: null,
    }));
    const run = await sessionize(text, opts, 65_536);
    expect(run.sessions.map(shape).sort(byUserThenStart)).toEqual(expected(events, opts).sort(byUserThenStart));
    expect(run.reports).toEqual([]);
    expect(run.sessions.map((s) => s['userId'])).toEqual(['a', 'c', 'b', 'a']);
  });

  it('reports bad lines with their numbers, skips blank ones, and goes on', async () => {
    const text = [
      '{"event_name": "view", "timestamp": "2016-11-08T14:00:00Z", "user_id": "1"}',
      '',
      'not json',
      '   ',
      '{"event_name": "view", "timestamp": "2016-11-08T14:00:05Z"}',
      '{"event_name": "view", "timestamp": 1478613605, "user_id": "1"}',
      '{"event_name": "view", "timestamp": "2016-11-08T14:00:06Z", "user_id": "1", "purchase_value": "abc"}',
      '{"event_name": "view", "timestamp": "2016-11-08 14:00:07", "user_id": "1"}\r',
    ].join('\n');
    const run = await sessionize(text, options(30_000));
    expect(run.reports).toEqual([
      [3, 'INVALID_JSON'],
      [5, 'MISSING_FIELD'],
      [7, 'VALUE_NOT_FINITE'],
    ]);
    expect(run.summary).toMatchObject({ lines: 8, events: 3, rejected: 3, sessions: 1 });
    expect(run.sessions[0]).toMatchObject({ startedAt: '2016-11-08T14:00:00.000Z', endedAt: '2016-11-08T14:00:07.000Z', eventCount: 3 });
  });

  it('holds events at the watermark itself: a later line may still precede or join them', async () => {
    const at = (s: number): string => new Date(T0 + s * 1000).toISOString();
    const text = [
      `{"event": "derived-id", "timestamp": "${at(0)}", "userId": "u"}`,
      // Same time, its own id: it comes first in key order ("a" < "line:...").
      `{"event": "own-id", "timestamp": "${at(0)}", "userId": "u", "eventId": "a"}`,
      `{"event": "other", "timestamp": "${at(10)}", "userId": "v"}`,
      // Exactly the gap after u's session and exactly at the watermark (lateness 0): it joins.
      `{"event": "joins", "timestamp": "${at(10)}", "userId": "u"}`,
    ].join('\n');
    const run = await sessionize(text, options(0));
    const u = run.sessions.filter((s) => s['userId'] === 'u');
    expect(u.map((s) => [s['eventCount'], s['firstEventName'], s['lastEventName']])).toEqual([[3, 'own-id', 'joins']]);
  });

  it('closes a session at MAX_DURATION and the next one starts where it was cut', async () => {
    // 35 s after the first event is one step too far (a session never spans maxDuration).
    const lines = [0, 7, 14, 21, 28, 35, 42].map((s) => `{"event": "view", "ts": ${1478613600 + s}, "userId": "u"}`);
    const run = await sessionize(lines.join('\n'), options(0));
    expect(run.sessions.map((s) => [s['eventCount'], s['durationSeconds'], s['closeReason']])).toEqual([
      [5, 28, 'MAX_DURATION'],
      [2, 7, 'FLUSH'],
    ]);
  });
});
