/**
 * `sessions ingest`'s pipeline: JSON lines -> events (the shared field
 * mapping) -> batches that remember their line numbers -> at most
 * `concurrency` mutations in flight. Reading waits while the pool is full,
 * so memory holds `concurrency` batches whatever the input's size.
 */
import { deriveEventId, idSource } from './event-id.ts';
import { LineRejection, type LineFields } from './event-line.ts';
import type { EventInput, IngestAnswer } from './ingest-client.ts';
import { LineParser } from './json-line.ts';
import { isBlankBytes, lineTextEnd, nextLine } from './line-reader.ts';
import { rejectedLines } from './rejections.ts';

/** Live counters (the progress line reads them while the run goes on). */
export interface IngestCounts {
  /** Lines read so far. */
  lines: number;
  /** Events sent and answered. */
  sent: number;
  accepted: number;
  duplicates: number;
  /** Lines refused, here or by the service. */
  rejected: number;
  rejectedByCode: Record<string, number>;
}

export function emptyCounts(): IngestCounts {
  return { lines: 0, sent: 0, accepted: 0, duplicates: 0, rejected: 0, rejectedByCode: {} };
}

/** Events of consecutive lines, with each one's line number. */
export interface Batch {
  readonly events: EventInput[];
  readonly lines: number[];
}

export interface IngestOptions {
  /** Events per mutation. */
  readonly batchSize: number;
  /** Mutations in flight at once. */
  readonly concurrency: number;
  /** What derived event ids hash besides the line (event-id.ts): the file's base name by default. */
  readonly sourceName: string;
}

export interface IngestHooks {
  /** Sends a batch, retrying as it sees fit; throws to stop the run (fatal). */
  send(batch: Batch): Promise<IngestAnswer>;
  /** Told about each refused line (lineNo null: the service named an index the batch lacks). */
  report(lineNo: number | null, code: string, message: string): void;
}

/**
 * Ingests the lines (chunks of whole lines, as readLineChunks yields them).
 * Resolves once every batch is answered; rejects with the first fatal error,
 * after the batches already in flight have been answered.
 */
export async function ingestLines(
  chunks: AsyncIterable<Buffer>,
  opts: IngestOptions,
  hooks: IngestHooks,
  counts: IngestCounts,
): Promise<void> {
  const parser = new LineParser();
  const source = idSource(opts.sourceName);
  const inFlight = new Set<Promise<void>>();
  let fatal: { error: unknown } | null = null;

  const reject = (lineNo: number | null, code: string, message: string): void => {
    counts.rejected++;
    counts.rejectedByCode[code] = (counts.rejectedByCode[code] ?? 0) + 1;
    hooks.report(lineNo, code, message);
  };
  const settle = (batch: Batch, answer: IngestAnswer): void => {
    counts.sent += batch.events.length;
    counts.accepted += answer.accepted;
    counts.duplicates += answer.duplicates;
    for (const r of rejectedLines(batch.lines, answer.rejected)) reject(r.lineNo, r.code, r.message);
  };
  const submit = async (batch: Batch): Promise<void> => {
    while (inFlight.size >= opts.concurrency) await Promise.race(inFlight);
    if (fatal !== null) return;
    const sending: Promise<void> = hooks
      .send(batch)
      .then(
        (answer) => settle(batch, answer),
        (error: unknown) => {
          fatal ??= { error };
        },
      )
      .finally(() => inFlight.delete(sending));
    inFlight.add(sending);
  };

  let batch: Batch = { events: [], lines: [] };
  let lineNo = 0;
  reading: for await (const buf of chunks) {
    for (let pos = 0; pos < buf.length; ) {
      const next = nextLine(buf, pos);
      const end = lineTextEnd(buf, pos, next);
      const start = pos;
      pos = next;
      lineNo++;
      counts.lines = lineNo;
      if (isBlankBytes(buf, start, end)) continue;
      const text = buf.toString('utf8', start, end);
      const read = parser.readWithProperties(text);
      if (read instanceof LineRejection) {
        reject(lineNo, read.code, read.message);
        continue;
      }
      const f = parser.fields;
      batch.events.push(eventInput(f, read.properties, f.eventId ?? deriveEventId(source, lineNo, text)));
      batch.lines.push(lineNo);
      if (batch.events.length >= opts.batchSize) {
        await submit(batch);
        batch = { events: [], lines: [] };
        if (fatal !== null) break reading;
      }
    }
  }
  if (fatal === null && batch.events.length > 0) await submit(batch);
  while (inFlight.size > 0) await Promise.race(inFlight);
  if (fatal !== null) throw (fatal as { error: unknown }).error;
}

/** The EventInput of a line's fields. */
function eventInput(f: LineFields, properties: Record<string, unknown> | null, eventId: string): EventInput {
  const e: EventInput = {
    eventId,
    userId: f.userId,
    name: f.name,
    timestamp: new Date(f.ts).toISOString(),
  };
  if (f.channelId !== null) e.channelId = f.channelId;
  if (f.value !== null) e.value = f.value;
  if (properties !== null) e.properties = properties;
  return e;
}
