import { PassThrough } from 'node:stream';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ByteWriter } from '../../../src/cli/byte-writer.ts';
import { sessionId } from '../../../src/cli/session-id.ts';
import { SESSION_COLUMNS, SessionWriter, type OutputFormat } from '../../../src/cli/session-output.ts';
import { SessionTally, type TallyEvent } from '../../../src/cli/session-tally.ts';
import type { SessionRules } from '../../../src/sessionizer/types.ts';

const RULES: SessionRules = {
  gapMs: 30_000,
  maxDurationMs: 86_400_000,
  conversionEvents: new Set(['purchase']),
  engagedMinDurationMs: 10_000,
  engagedMinEvents: 2,
};

const T = Date.parse('2016-11-08T14:09:57.250Z');
const ev = (over: Partial<TallyEvent>): TallyEvent => ({ userId: 'u "1"', name: 'view', ts: T, channelId: null, value: null, ...over });

function session(): SessionTally {
  const s = new SessionTally(ev({ channelId: 'b' }), false, RULES.conversionEvents);
  s.add(ev({ name: 'purchase', ts: T + 1_500, channelId: 'a,1', value: 9.99 }), RULES.conversionEvents);
  s.add(ev({ name: 'é "ü"\n', ts: T + 3_000, channelId: 'a,1', value: 0.01 }), RULES.conversionEvents);
  s.add(ev({ name: 'view', ts: T + 3_500, channelId: '10', value: -2.5 }), RULES.conversionEvents);
  s.closeReason = 'INACTIVITY';
  return s;
}

async function written(format: OutputFormat, sessions: SessionTally[], newId: (() => string) | null = () => 'id-1'): Promise<string> {
  const out = new PassThrough();
  let text = '';
  out.on('data', (b: Buffer) => (text += b.toString('utf8')));
  const w = new SessionWriter(out, format, RULES, newId);
  for (const s of sessions) w.write(s);
  await w.end();
  return text;
}

describe('SessionWriter', () => {
  it('writes the service fields as JSON, escaping as JSON.stringify does', async () => {
    const [line] = (await written('jsonl', [session()])).split('\n');
    expect(JSON.parse(line as string)).toEqual({
      id: 'id-1',
      userId: 'u "1"',
      status: 'CLOSED',
      startedAt: '2016-11-08T14:09:57.250Z',
      endedAt: '2016-11-08T14:10:00.750Z',
      durationSeconds: 3.5,
      eventCount: 4,
      eventCounts: { view: 2, purchase: 1, 'é "ü"\n': 1 },
      topChannel: 'a,1',
      topChannelCount: 2,
      channels: { b: 1, 'a,1': 2, '10': 1 },
      totalValue: 7.5,
      converted: true,
      engaged: true,
      bounced: false,
      firstEventName: 'view',
      lastEventName: 'view',
      closeReason: 'INACTIVITY',
    });
    expect(Object.keys(JSON.parse(line as string))).toEqual([...SESSION_COLUMNS]);
    // Entries in the API's order: eventCounts most frequent first, channels as first seen
    // (JSON.parse above puts the integer-like key "10" first).
    expect(line).toContain('"eventCounts":{"view":2,"purchase":1,"é \\"ü\\"\\n":1}');
    expect(line).toContain('"channels":{"b":1,"a,1":2,"10":1}');
  });

  it('orders eventCounts by count, then name, for many names too', async () => {
    for (const distinct of [3, 29, 30, 31, 40]) {
      const s = new SessionTally(ev({ name: 'n00' }), false, RULES.conversionEvents);
      for (let i = 1; i < distinct * 2; i++) s.add(ev({ name: `n${String(i % distinct).padStart(2, '0')}`, ts: T + i }), RULES.conversionEvents);
      const [line] = (await written('jsonl', [s])).split('\n');
      const keys = [...(line as string).matchAll(/"(n\d\d)":(\d+)/g)].map((m) => [m[1], Number(m[2])] as const);
      const expected = [...keys].sort((a, b) => b[1] - a[1] || ((a[0] as string) < (b[0] as string) ? -1 : 1));
      expect(keys).toHaveLength(distinct);
      expect(keys).toEqual(expected);
    }
  });

  it('derives each id from the user and the start: a version 8 UUID, the same on every run', async () => {
    const other = new SessionTally(ev({ userId: 'u "2"' }), false, RULES.conversionEvents);
    const later = new SessionTally(ev({ ts: T + 1 }), false, RULES.conversionEvents);
    const lines = (await written('jsonl', [session(), session(), other, later], null)).trimEnd().split('\n');
    const ids = lines.map((l) => (JSON.parse(l) as { id: string }).id);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(ids[0]).toBe(ids[1]);
    expect(new Set(ids).size).toBe(3);
    expect(ids[0]).toBe(sessionId('u "1"', T));
    // CSV gives the same ids.
    const csv = (await written('csv', [session(), other], null)).trimEnd().split('\n').slice(1);
    expect(csv.map((row) => row.slice(0, 36))).toEqual([ids[0], ids[2]]);
  });

  it('gives distinct sessions distinct ids', () => {
    const ids = new Set<string>();
    let n = 0;
    for (let u = 0; u < 2_000; u++) {
      for (let k = 0; k < 100; k++, n++) ids.add(sessionId(String(u), T + k * 31_000 + (u % 7)));
    }
    for (const user of ['', 'é', 'a'.repeat(300)]) {
      ids.add(sessionId(user, T));
      ids.add(sessionId(user, -T));
      n += 2;
    }
    expect(ids.size).toBe(n);
  });

  it('writes what JSON.stringify writes, for any times, counts, values and strings', async () => {
    const eventArb = fc.record({
      name: fc.oneof(fc.constantFrom('view', 'purchase', 'send_message'), fc.string({ maxLength: 6 })),
      dt: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 90_000_000 })),
      channelId: fc.option(fc.oneof(fc.constantFrom('1', '42', 'c'), fc.string({ maxLength: 4 }))),
      value: fc.option(fc.oneof(fc.constant(0), fc.constant(-0), fc.double({ noNaN: true, noDefaultInfinity: true }))),
    });
    const startArb = fc.oneof(
      fc.integer({ min: Date.parse('2000-01-01T00:00:00Z'), max: Date.parse('2040-01-01T00:00:00Z') }),
      fc.integer({ min: -8.64e15, max: 8.64e15 - 1e11 }),
      fc.constantFrom(Date.parse('0000-01-01T00:00:00Z'), Date.parse('9999-12-31T23:59:59.999Z'), Date.parse('-000001-12-31T23:59:59.999Z')),
    );
    await fc.assert(
      fc.asyncProperty(fc.string({ maxLength: 6 }), startArb, fc.array(eventArb, { minLength: 1, maxLength: 40 }), async (user, start, events) => {
        let ts = start;
        const tallyEvents = events.map((e) => ({ userId: user, name: e.name, ts: (ts = Math.min(ts + e.dt, 8.64e15)), channelId: e.channelId, value: e.value }));
        const s = new SessionTally(tallyEvents[0] as TallyEvent, false, RULES.conversionEvents);
        for (const e of tallyEvents.slice(1)) s.add(e, RULES.conversionEvents);
        s.closeReason = 'MAX_DURATION';
        const names = new Map<string, number>();
        const channels = new Map<string, number>();
        for (const e of tallyEvents) {
          names.set(e.name, (names.get(e.name) ?? 0) + 1);
          if (e.channelId !== null) channels.set(e.channelId, (channels.get(e.channelId) ?? 0) + 1);
        }
        const top = [...channels].reduce<[string, number] | null>((best, c) => (best === null || c[1] > best[1] ? c : best), null);
        // Built by hand, keys in order (JSON.stringify would move integer-like keys first).
        const obj = (entries: Array<[string, number]>): string => `{${entries.map(([k, c]) => `${JSON.stringify(k)}:${c}`).join(',')}}`;
        const first = tallyEvents[0] as TallyEvent;
        const last = tallyEvents[tallyEvents.length - 1] as TallyEvent;
        const expected =
          `{"id":${JSON.stringify(sessionId(user, first.ts))},"userId":${JSON.stringify(user)},"status":"CLOSED",` +
          `"startedAt":${JSON.stringify(new Date(first.ts).toISOString())},"endedAt":${JSON.stringify(new Date(last.ts).toISOString())},` +
          `"durationSeconds":${JSON.stringify((last.ts - first.ts) / 1000)},"eventCount":${tallyEvents.length},` +
          `"eventCounts":${obj([...names].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)))},` +
          `"topChannel":${JSON.stringify(top?.[0] ?? null)},"topChannelCount":${JSON.stringify(top?.[1] ?? null)},"channels":${obj([...channels])},` +
          `"totalValue":${JSON.stringify(tallyEvents.reduce((sum, e) => (e.value === null ? sum : sum + e.value), 0))},` +
          `"converted":${names.has('purchase')},"engaged":${s.engaged(RULES)},"bounced":${tallyEvents.length === 1},` +
          `"firstEventName":${JSON.stringify(first.name)},"lastEventName":${JSON.stringify(last.name)},"closeReason":"MAX_DURATION"}`;
        expect(await written('jsonl', [s], null)).toBe(`${expected}\n`);
      }),
      { numRuns: 300 },
    );
  });

  it('writes CSV with a header, quoting cells that need it', async () => {
    const text = await written('csv', [session()]);
    const header = text.slice(0, text.indexOf('\n'));
    const row = text.slice(header.length + 1);
    expect(header).toBe(SESSION_COLUMNS.join(','));
    expect(row).toBe(
      'id-1,"u ""1""",CLOSED,2016-11-08T14:09:57.250Z,2016-11-08T14:10:00.750Z,3.5,4,' +
        '"{""view"":2,""purchase"":1,""é \\""ü\\""\\n"":1}","a,1",2,"{""b"":1,""a,1"":2,""10"":1}",' +
        '7.5,true,true,false,view,view,INACTIVITY\n',
    );
  });

  it('writes a JSON array, empty or not', async () => {
    expect(JSON.parse(await written('json', []))).toEqual([]);
    expect(JSON.parse(await written('json', [session(), session()]))).toHaveLength(2);
  });
});

describe('ByteWriter', () => {
  it('grows as needed, and hands out what was written', () => {
    const w = new ByteWriter(4);
    w.ascii('{"a":');
    w.utf8('"é"');
    const buf = w.room(100);
    buf[w.length] = 125;
    w.advance(w.length + 1);
    expect(w.take().toString()).toBe('{"a":"é"}');
    expect(w.length).toBe(0);
  });
});
