/**
 * `sessions ingest`'s pipeline: JSON lines -> events (the field mapping and
 * the service's checks, line-events.ts, as for sessionize) -> batches that
 * remember their line numbers -> at most `concurrency` mutations in flight.
 * Reading waits while the pool is full, so memory holds `concurrency`
 * batches whatever the input's size.
 */
import type { CheckedEvent } from '../ingest/validate.ts';
import type { EventInput, IngestAnswer } from './ingest-client.ts';
import { readLines, type InputFormat } from './line-events.ts';
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

/** Future timestamps are the service's to judge, by its clock and MAX_FUTURE_SKEW. */
const NO_CLOCK = { nowMs: 0, maxFutureSkewMs: Number.POSITIVE_INFINITY };

export interface IngestOptions {
  /** Events per mutation. */
  readonly batchSize: number;
  /** Mutations in flight at once. */
  readonly concurrency: number;
  /** What the lines hold (events when absent). */
  readonly inputFormat?: InputFormat;
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
  const full: Batch[] = [];
  const sink = {
    event(e: CheckedEvent, line: number): void {
      batch.events.push(eventInput(e));
      batch.lines.push(line);
      if (batch.events.length >= opts.batchSize) {
        full.push(batch);
        batch = { events: [], lines: [] };
      }
    },
    refuse(r: { line: number; code: string; message: string }): void {
      reject(r.line, r.code, r.message);
    },
  };
  reading: for await (const buf of chunks) {
    counts.lines += readLines(buf.toString('utf8'), counts.lines + 1, { ...NO_CLOCK, inputFormat: opts.inputFormat ?? 'events' }, sink);
    for (const b of full.splice(0)) {
      await submit(b);
      if (fatal !== null) break reading;
    }
  }
  if (fatal === null && batch.events.length > 0) await submit(batch);
  while (inFlight.size > 0) await Promise.race(inFlight);
  if (fatal !== null) throw (fatal as { error: unknown }).error;
}

/**
 * What the mutation gets: the checked event as sent, without an eventId when
 * the line had none (the service then derives it from the content, as
 * sessionize does: a re-run or a retry counts as duplicates).
 */
function eventInput(e: CheckedEvent): EventInput {
  const out: EventInput = { userId: e.userId, name: e.name, timestamp: new Date(e.ts).toISOString() };
  if (e.eventId !== null) out.eventId = e.eventId;
  if (e.channelId !== null) out.channelId = e.channelId;
  if (e.value !== null) out.value = e.value;
  if (e.properties !== null) out.properties = JSON.parse(e.properties) as Record<string, unknown>;
  return out;
}
