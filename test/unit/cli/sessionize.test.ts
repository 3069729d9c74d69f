/**
 * `sessions sessionize` in process, on one set of events written in several
 * export shapes (keys in other orders, CRLF, epoch seconds and milliseconds,
 * offsets, numeric ids, nested and extra keys, values as text, malformed
 * lines), on one thread and on the parse workers: every session must be the
 * independent brute-force reference's (test/helpers/reference.ts), with
 * derived ids and duplicates as the service has them.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { readLineChunks } from '../../../src/cli/line-reader.ts';
import { SessionWriter } from '../../../src/cli/session-output.ts';
import { sessionizeLines, type SessionizeOptions, type SessionizeSummary } from '../../../src/cli/sessionize.ts';
import { sessionizeFileThreaded } from '../../../src/cli/sessionize-threaded.ts';
import { derivedEventId } from '../../helpers/derived-id.ts';
import { shuffleWithin } from '../../helpers/events.ts';
import { referenceSessions, rng, type RefEvent } from '../../helpers/reference.ts';

const LATENESS_MS = 20_000;
const OPTS: SessionizeOptions = {
  gapMs: 10_000,
  maxDurationMs: 60_000,
  conversionEvents: new Set(['buy']),
  engagedMinDurationMs: 8_000,
  engagedMinEvents: 3,
  latenessMs: LATENESS_MS,
  nowMs: Date.parse('2030-01-01T00:00:00Z'),
  maxFutureSkewMs: 300_000,
  definitions: null,
};
const T0 = Date.parse('2016-11-08T14:00:00Z');

/** An event and the extra keys its line carries (they become its properties). */
interface Source extends RefEvent {
  own: boolean;
  extra: Record<string, unknown> | null;
}

/**
 * Users on a 500 ms grid (ties, exact gaps and exact maximum durations are
 * common), some lines with their own id, some repeated (an export that
 * repeats itself: the same content, so the same derived id).
 */
function sourceEvents(seed: number): Source[] {
  const random = rng(seed);
  const out: Source[] = [];
  for (let i = 0; i < 1_500; i++) {
    const user = 1 + Math.floor(random() * 12);
    const ts = T0 + Math.floor(random() * 1_200) * 500;
    const own = random() < 0.3;
    const e: Source = {
      eventId: own ? `e-${i}` : '',
      userId: String(user),
      name: ['view', 'click', 'buy'][Math.floor(random() * 3)] as string,
      ts,
      channelId: random() < 0.2 ? null : `c${Math.floor(random() * 3)}`,
      value: random() < 0.3 ? Math.floor(random() * 100) / 4 : null,
      own,
      extra: random() < 0.5 ? { page: { path: `/p/${i % 5}`, title: 'Café "ü"\n' }, tags: ['a'] } : null,
    };
    out.push(e);
    if (random() < 0.05) out.push({ ...e });
  }
  return shuffleWithin(out, LATENESS_MS, random);
}

type Shape = (e: Source) => string;

const iso = (ms: number): string => new Date(ms).toISOString();
const json = JSON.stringify;
/** The line's object: fields first in the shape's order, then the extra keys. */
function line(fields: Array<[string, unknown]>, e: Source, idKey: string): string {
  const obj: Record<string, unknown> = {};
  for (const [k, v] of fields) if (v !== null && v !== undefined) obj[k] = v;
  if (e.own) obj[idKey] = e.eventId;
  return json({ ...obj, ...e.extra });
}

const seed: Shape = (e) =>
  line([['event_name', e.name], ['timestamp', iso(e.ts)], ['user_id', e.userId], ['channel_id', e.channelId], ['purchase_value', e.value]], e, 'event_id');

const SHAPES: Record<string, Shape> = {
  seed,
  // Properties not in canonical form (spaces, escapes): derived ids still hash the canonical JSON, as the service's.
  spaced: (e) => seed(e).replaceAll(',"', ' , "').replaceAll('é', '\\u00e9').replaceAll('[', '[ '),
  reordered: (e) =>
    line([['channelId', e.channelId], ['eventTime', 1], ['value', e.value], ['userId', e.userId], ['ts', iso(e.ts).replace('Z', '+00:00')], ['name', e.name]], e, 'eventId')
      .replace('"eventTime":1,', '') + '\r',
  epochMs: (e) => line([['ts', e.ts], ['user_id', Number(e.userId)], ['event_type', e.name], ['channel_id', e.channelId], ['revenue', e.value]], e, 'id'),
  epochSeconds: (e) =>
    line([['time', e.ts / 1000], ['event', e.name], ['user_id', e.userId], ['channel_id', e.channelId], ['amount', e.value === null ? null : String(e.value)]], e, 'event_id'),
  // RFC 3339 offsets, and those of ISO 8601 and other exports: -0200, -02, " UTC".
  offsets: (e) => {
    // Timestamps are whole half-seconds: pick the form by the half-second.
    const k = Math.round(e.ts / 500);
    const local = new Date(e.ts - 2 * 3_600_000).toISOString().replace('Z', ['-02:00', '-0200', '-02'][k % 3] as string);
    const time = k % 5 === 0 ? iso(e.ts).replace('T', ' ').replace('Z', ' UTC') : local;
    return line([['user_id', e.userId], ['event_time', time], ['event_name', e.name], ['channel_id', e.channelId], ['value', e.value]], e, 'event_id');
  },
};

/** Lines the service's checks refuse, and the code each must get. */
const BAD: Array<[string, string]> = [
  ['{"event_name": "view", "timestamp": ', 'INVALID_JSON'],
  ['["view", "2016-11-08T14:09:57Z", "1"]', 'INVALID_JSON'],
  ['{"event_name": "view", "timestamp": "2016-11-08T14:09:57Z"}', 'MISSING_FIELD'],
  ['{"event_name": "view", "timestamp": "2016-02-30T14:09:57Z", "user_id": "1"}', 'INVALID_TIMESTAMP'],
  // Blank: a blank user or name is missing, a blank time is not a time (as the service answers `timestamp: ""`).
  ['{"event_name": "view", "timestamp": " ", "user_id": "1"}', 'INVALID_TIMESTAMP'],
  ['{"event_name": " ", "timestamp": "2016-11-08T14:09:57Z", "user_id": "1"}', 'MISSING_FIELD'],
  ['{"event_name": "view", "timestamp": "2016-11-08T14:09:57Z", "user_id": {"a": 1}}', 'INVALID_FIELD'],
  ['{"event_name": "view", "timestamp": "2016-11-08T14:09:57Z", "user_id": "1", "value": 1e300}', 'VALUE_OUT_OF_RANGE'],
  ['{"event_name": "view", "timestamp": "2016-11-08T14:09:57Z", "user_id": "1", "value": "lots"}', 'VALUE_NOT_FINITE'],
  // A value string is a decimal number: JavaScript's Number() would read these as 16 and 1.
  ['{"event_name": "view", "timestamp": "2016-11-08T14:09:57Z", "user_id": "1", "value": "0x10"}', 'VALUE_NOT_FINITE'],
  ['{"event_name": "view", "timestamp": "2016-11-08T14:09:57Z", "user_id": "1", "revenue": "0b1"}', 'VALUE_NOT_FINITE'],
  ['{"event_name": "view", "timestamp": "2016-11-08T14:09:57Z", "user_id": "1", "value": "Infinity"}', 'VALUE_NOT_FINITE'],
  ['{"event_name": "view", "timestamp": "2031-01-01T00:00:00Z", "user_id": "1"}', 'FUTURE_TIMESTAMP'],
  ['{"event_name": "view\\u0000", "timestamp": "2016-11-08T14:09:57Z", "user_id": "1"}', 'INVALID_FIELD'],
  [`{"event_name": "${'v'.repeat(257)}", "timestamp": "2016-11-08T14:09:57Z", "user_id": "1"}`, 'FIELD_TOO_LONG'],
];

/** The file's text and what the reference expects from it. */
function file(shape: Shape, seed: number): { text: string; events: RefEvent[]; reports: Array<[number, string]> } {
  const lines: string[] = [];
  const events: RefEvent[] = [];
  const reports: Array<[number, string]> = [];
  const random = rng(seed + 1);
  let newest = Number.NEGATIVE_INFINITY;
  for (const e of sourceEvents(seed)) {
    if (random() < 0.01) {
      const [text, code] = BAD[Math.floor(random() * BAD.length)] as [string, string];
      lines.push(text);
      reports.push([lines.length, code]);
    }
    if (random() < 0.005 && newest > T0) {
      // More than the lateness behind the newest line so far: refused, whichever thread holds its user.
      const late: Source = { ...e, eventId: 'late', own: true, userId: String(Math.floor(random() * 12)), ts: newest - LATENESS_MS - 500 };
      lines.push(shape(late));
      reports.push([lines.length, 'LATE_EVENT']);
    }
    if (e.ts > newest) newest = e.ts;
    lines.push(shape(e));
    const properties = e.extra === null ? null : json(e.extra);
    events.push({ ...e, eventId: e.own ? e.eventId : derivedEventId({ ...e, properties }) });
  }
  lines.splice(7, 0, '   ');
  for (const r of reports) if (r[0] >= 8) r[0]++;
  return { text: `\uFEFF${lines.join('\n')}\n`, events, reports };
}

function expected(events: RefEvent[]): unknown[] {
  return referenceSessions(events, { ...OPTS, conversionEvents: [...OPTS.conversionEvents] }).map((s) => ({
    userId: s.userId,
    startedAt: iso(s.startedAt),
    endedAt: iso(s.endedAt),
    eventCount: s.eventCount,
    eventCounts: s.eventCounts,
    topChannel: s.topChannel,
    totalValue: s.totalValue,
    converted: s.converted,
    engaged: s.engaged,
    bounced: s.bounced,
    firstEventName: s.firstEventName,
    lastEventName: s.lastEventName,
  }));
}

function comparable(jsonl: string): unknown[] {
  return jsonl
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .map((s) => ({
      userId: s['userId'],
      startedAt: s['startedAt'],
      endedAt: s['endedAt'],
      eventCount: s['eventCount'],
      eventCounts: s['eventCounts'],
      topChannel: s['topChannel'],
      totalValue: s['totalValue'],
      converted: s['converted'],
      engaged: s['engaged'],
      bounced: s['bounced'],
      firstEventName: s['firstEventName'],
      lastEventName: s['lastEventName'],
    }))
    .sort((a, b) => (a.userId === b.userId ? (a.startedAt as string).localeCompare(b.startedAt as string) : (a.userId as string).localeCompare(b.userId as string)));
}

interface Run {
  sessions: unknown[];
  reports: Array<[number, string]>;
  summary: SessionizeSummary;
}

async function run(text: string, threaded: boolean, chunkBytes: number): Promise<Run> {
  const out = new PassThrough();
  let jsonl = '';
  out.on('data', (b: Buffer) => (jsonl += b.toString()));
  const reports: Array<[number, string]> = [];
  const report = (r: { line: number; code: string }): void => void reports.push([r.line, r.code]);
  let summary: SessionizeSummary;
  if (threaded) {
    const p = path.join(dir, 'in.jsonl');
    writeFileSync(p, text);
    summary = await sessionizeFileThreaded(p, out, 'jsonl', OPTS, report, chunkBytes);
    out.end();
  } else {
    const writer = new SessionWriter(out, 'jsonl');
    const bytes = Buffer.from(text);
    // Arbitrary read sizes: lines cut between reads must be put back together.
    const reads = (async function* () {
      for (let i = 0; i < bytes.length; i += chunkBytes) yield bytes.subarray(i, i + chunkBytes);
    })();
    summary = await sessionizeLines(readLineChunks(reads), writer, OPTS, report);
  }
  return { sessions: comparable(jsonl), reports, summary };
}

const dir = mkdtempSync(path.join(tmpdir(), 'sessionize-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('sessions sessionize on files of several shapes', () => {
  for (const [name, shape] of Object.entries(SHAPES)) {
    it(`${name}: the reference sessions, the bad lines by number and code, on one thread and on the workers`, async () => {
      const f = file(shape, name.length * 31);
      const want = expected(f.events);
      const distinct = new Set(f.events.map((e) => e.eventId)).size;
      expect(distinct).toBeLessThan(f.events.length); // some lines repeat
      for (const [threaded, chunk] of [[false, 4_093], [true, 4_093], [true, 1 << 20]] as const) {
        const r = await run(f.text, threaded, chunk);
        expect(r.sessions).toEqual(want);
        expect(r.reports).toEqual(f.reports);
        expect(r.summary.events).toBe(distinct);
        expect(r.summary.duplicates).toBe(f.events.length - distinct);
        expect(r.summary.lines).toBe(f.events.length + f.reports.length + 1);
        expect(f.reports.some(([, code]) => code === 'LATE_EVENT')).toBe(true);
      }
    });
  }
});
