import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ByteWriter } from '../../../src/cli/byte-writer.ts';
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

  it('gives every session a fresh random UUID by default', async () => {
    const lines = (await written('jsonl', [session(), session()], null)).trimEnd().split('\n');
    const ids = lines.map((l) => (JSON.parse(l) as { id: string }).id);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(ids[0]).not.toBe(ids[1]);
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
