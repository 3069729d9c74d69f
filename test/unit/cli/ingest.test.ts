import { describe, expect, it } from 'vitest';
import { emptyCounts, ingestLines, type Batch } from '../../../src/cli/ingest.ts';
import type { IngestAnswer } from '../../../src/cli/ingest-client.ts';
import { rejectedLines } from '../../../src/cli/rejections.ts';
import { waitUntil } from '../../helpers/wait.ts';

describe('rejectedLines', () => {
  it("maps each rejection's batch index to the line it came from, in line order", () => {
    // The batch holds the events of lines 3, 4, 7, 8 and 12 (lines 5, 6 and 9-11 were refused locally or blank).
    const lines = [3, 4, 7, 8, 12];
    expect(
      rejectedLines(lines, [
        { index: 4, code: 'FUTURE_TIMESTAMP', message: 'ahead' },
        { index: 0, code: 'FIELD_TOO_LONG', message: 'long' },
        { index: 2, code: 'PROPERTIES_TOO_LARGE', message: 'big' },
      ]),
    ).toEqual([
      { lineNo: 3, code: 'FIELD_TOO_LONG', message: 'long' },
      { lineNo: 7, code: 'PROPERTIES_TOO_LARGE', message: 'big' },
      { lineNo: 12, code: 'FUTURE_TIMESTAMP', message: 'ahead' },
    ]);
  });

  it('keeps a rejection whose index the batch does not have, without a line', () => {
    expect(rejectedLines([10, 11], [{ index: 2, code: 'X', message: 'm' }, { index: -1, code: 'Y', message: 'n' }])).toEqual([
      { lineNo: null, code: 'X', message: 'm' },
      { lineNo: null, code: 'Y', message: 'n' },
    ]);
  });
});

function chunksOf(text: string, size = 7): AsyncIterable<Buffer> {
  const buf = Buffer.from(text);
  return (async function* () {
    // Chunks cut mid-line are what readLineChunks repairs; here whole lines per chunk, as it yields.
    const lines = buf.toString().split(/(?<=\n)/);
    for (let i = 0; i < lines.length; i += size) yield Buffer.from(lines.slice(i, i + size).join(''));
  })();
}

const line = (user: string, second: number, extra = ''): string =>
  `{"event_name": "send_message", "timestamp": "2016-11-08T14:09:${String(second).padStart(2, '0')}Z", "user_id": "${user}", "channel_id": "1"${extra}}`;

describe('ingestLines', () => {
  it('sends batches of events that remember their lines, and reports local and service rejections by line', async () => {
    const text = [
      line('1', 1), // 1
      '{"event_name": "x"', // 2: INVALID_JSON
      line('2', 2), // 3
      '', // 4: blank, skipped
      line('3', 3, ', "purchase_value": 9.5'), // 5
      line('4', 4), // 6: the service rejects it
      line('5', 5, ', "event_id": "own-id", "device": "ios"'), // 7
    ].join('\n');
    const batches: Batch[] = [];
    const reports: Array<[number | null, string]> = [];
    const counts = emptyCounts();
    await ingestLines(
      chunksOf(text, 2),
      { batchSize: 2, concurrency: 2 },
      {
        async send(batch): Promise<IngestAnswer> {
          batches.push(batch);
          const i = batch.events.findIndex((e) => e.userId === '4');
          return { accepted: batch.events.length - (i >= 0 ? 1 : 0), duplicates: 0, rejected: i >= 0 ? [{ index: i, code: 'FUTURE_TIMESTAMP', message: 'ahead' }] : [] };
        },
        report: (lineNo, code) => reports.push([lineNo, code]),
      },
      counts,
    );
    expect(batches.map((b) => b.lines)).toEqual([[1, 3], [5, 6], [7]]);
    expect(reports.sort((a, b) => (a[0] ?? 0) - (b[0] ?? 0))).toEqual([
      [2, 'INVALID_JSON'],
      [6, 'FUTURE_TIMESTAMP'],
    ]);
    expect(counts).toEqual({
      lines: 7,
      sent: 5,
      accepted: 4,
      duplicates: 0,
      rejected: 2,
      rejectedByCode: { INVALID_JSON: 1, FUTURE_TIMESTAMP: 1 },
    });
    const [first, , last] = batches;
    // Lines without an eventId are sent without one (the service derives it from the content); fields map to EventInput.
    expect(first?.events[0]).toEqual({
      userId: '1',
      name: 'send_message',
      timestamp: '2016-11-08T14:09:01.000Z',
      channelId: '1',
    });
    expect(batches[1]?.events[0]).toMatchObject({ value: 9.5 });
    expect(last?.events[0]).toEqual({
      eventId: 'own-id',
      userId: '5',
      name: 'send_message',
      timestamp: '2016-11-08T14:09:05.000Z',
      channelId: '1',
      properties: { device: 'ios' },
    });
  });

  it('maps lines of Segment messages as the Segment endpoint does (--input-format segment)', async () => {
    const text = [
      '{"type":"page","anonymousId":"a1","messageId":"m1","name":"Home","timestamp":"2026-04-01T09:00:00.000Z","properties":{"url":"https://shop.example/"}}',
      '{"type":"identify","userId":"u1","messageId":"m2","traits":{"plan":"pro"}}', // no event
      '{"type":"track","userId":"u1","anonymousId":"a1","messageId":"m3","event":"Order Completed","timestamp":"2026-04-01T09:01:00.000Z","properties":{"revenue":42.5}}',
      '{"type":"alarm","userId":"u1","messageId":"m4"}', // UNKNOWN_TYPE
    ].join('\n');
    const batches: Batch[] = [];
    const reports: Array<[number | null, string]> = [];
    const counts = emptyCounts();
    await ingestLines(
      chunksOf(text),
      { batchSize: 10, concurrency: 1, inputFormat: 'segment' },
      {
        async send(batch): Promise<IngestAnswer> {
          batches.push(batch);
          return { accepted: batch.events.length, duplicates: 0, rejected: [] };
        },
        report: (lineNo, code) => reports.push([lineNo, code]),
      },
      counts,
    );
    expect(reports).toEqual([[4, 'UNKNOWN_TYPE']]);
    expect(batches.map((b) => b.lines)).toEqual([[1, 3]]);
    expect(batches[0]?.events).toEqual([
      { eventId: 'm1', userId: 'a1', name: 'page_view', timestamp: '2026-04-01T09:00:00.000Z', properties: { url: 'https://shop.example/' } },
      { eventId: 'm3', userId: 'u1', name: 'Order Completed', timestamp: '2026-04-01T09:01:00.000Z', value: 42.5, properties: { revenue: 42.5 } },
    ]);
  });

  it('refuses lines by the service checks before sending, with the service codes', async () => {
    const text = [
      line('1', 1, ', "value": 1e300'), // VALUE_OUT_OF_RANGE
      line('2', 2, ', "note": "a\\u0000b"'), // INVALID_FIELD: NUL in properties
      line('3', 3),
    ].join('\n');
    const reports: Array<[number | null, string]> = [];
    const sent: Batch[] = [];
    await ingestLines(
      chunksOf(text),
      { batchSize: 10, concurrency: 1 },
      {
        async send(batch) {
          sent.push(batch);
          return { accepted: batch.events.length, duplicates: 0, rejected: [] };
        },
        report: (lineNo, code) => reports.push([lineNo, code]),
      },
      emptyCounts(),
    );
    expect(reports).toEqual([
      [1, 'VALUE_OUT_OF_RANGE'],
      [2, 'INVALID_FIELD'],
    ]);
    expect(sent.map((b) => b.lines)).toEqual([[3]]);
  });

  it('keeps at most `concurrency` batches in flight', async () => {
    const text = Array.from({ length: 40 }, (_, i) => line(String(i), i % 60)).join('\n');
    let inFlight = 0;
    let most = 0;
    // Answers are held until three batches wait (or the last one came): no timer decides.
    const held: Array<() => void> = [];
    await ingestLines(
      chunksOf(text, 3),
      { batchSize: 2, concurrency: 3 },
      {
        async send(batch) {
          inFlight++;
          most = Math.max(most, inFlight);
          await new Promise<void>((resolve) => {
            held.push(resolve);
            if (held.length === 3 || batch.lines.includes(40)) for (const release of held.splice(0)) release();
          });
          inFlight--;
          return { accepted: batch.events.length, duplicates: 0, rejected: [] };
        },
        report: () => undefined,
      },
      emptyCounts(),
    );
    expect(most).toBe(3);
  });

  it('stops reading on a fatal error and rejects with it once the batches in flight are answered', async () => {
    const text = Array.from({ length: 100 }, (_, i) => line(String(i), i % 60)).join('\n');
    const sent: number[] = [];
    const counts = emptyCounts();
    // The first batch (lines 1-5) is answered only when the test says so, after the second (6-10) failed.
    let answerFirst!: () => void;
    const firstAnswered = new Promise<void>((resolve) => (answerFirst = resolve));
    let failed = false;
    let settled = false;
    const run = ingestLines(
      chunksOf(text),
      { batchSize: 5, concurrency: 2 },
      {
        async send(batch) {
          sent.push(batch.lines[0] as number);
          if (batch.lines[0] === 6) {
            failed = true;
            throw new Error('refused');
          }
          if (batch.lines[0] === 1) await firstAnswered;
          return { accepted: batch.events.length, duplicates: 0, rejected: [] };
        },
        report: () => undefined,
      },
      counts,
    );
    run.then(
      () => (settled = true),
      () => (settled = true),
    );
    await waitUntil(() => failed, 'the second batch to fail');
    // Let everything that does not wait for the first answer run: the run must still wait for it.
    await new Promise((resolve) => setImmediate(resolve));
    expect(settled).toBe(false);
    expect(counts.sent).toBe(0);
    answerFirst();
    await expect(run).rejects.toThrow('refused');
    expect(counts.sent).toBe(5); // the batch in flight was answered and counted before the run rejected
    expect(sent.length).toBeLessThan(5);
    expect(counts.lines).toBeLessThan(100);
  });
});
