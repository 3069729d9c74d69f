/**
 * `sessions sessionize`: the service's session rules run locally over a
 * JSON-lines stream with the pure core (Sessionizer + runBatch), no server or
 * database. Memory follows the open sessions, not the file: see
 * WindowedSessionStore and docs/cli.md ("Late events and memory").
 */
import { randomUUID } from 'node:crypto';
import { persistChanges, runBatch, Sessionizer } from '../sessionizer/index.ts';
import type { SessionEvent, SessionRules } from '../sessionizer/index.ts';
import { lineNumberIds } from './event-id.ts';
import { LineCode, LineRejection } from './event-line.ts';
import { LineParser } from './json-line.ts';
import { isBlankBytes, lineTextEnd, nextLine } from './line-reader.ts';
import type { SessionWriter } from './session-output.ts';
import { WindowedSessionStore } from './windowed-store.ts';

export interface SessionizeOptions extends SessionRules {
  /** How far (ms) behind the largest timestamp seen an event is still admitted; Infinity keeps everything. */
  readonly latenessMs: number;
  /** Events handed to the core per batch (default 8192). */
  readonly batchSize?: number;
}

export interface SessionizeSummary {
  lines: number;
  /** Events admitted and sessionized. */
  events: number;
  /** Lines whose eventId repeats an admitted one (ignored, as the service does). */
  duplicates: number;
  rejected: number;
  rejectedByCode: Record<string, number>;
  sessions: number;
  /** Most events held for corrections at once (after a batch). */
  peakRetainedEvents: number;
}

/** Receives each refused line. */
export type RejectionReporter = (lineNo: number, rejection: LineRejection) => void;

const DEFAULT_BATCH = 8_192;

/**
 * Admission in front of the core: drops repeated explicit eventIds and refuses
 * events behind the watermark. It sees the admitted events in the order the
 * Sessionizer will, so its watermark is the Sessionizer's.
 */
class Admission {
  private maxTs = Number.NEGATIVE_INFINITY;
  /** Explicit ids still able to repeat, with their timestamps, in admission order. */
  private readonly seen = new Map<string, number>();
  private readonly order: string[] = [];
  private orderHead = 0;

  constructor(private readonly latenessMs: number) {}

  /** null: admitted; 'duplicate'; or the rejection. */
  admit(e: SessionEvent, explicitId: boolean, lineNo: number): null | 'duplicate' | LineRejection {
    if (explicitId && this.seen.has(e.eventId)) return 'duplicate';
    const watermark = this.maxTs - this.latenessMs;
    if (e.ts < watermark) {
      return new LineRejection(
        LineCode.LateEvent,
        `${new Date(e.ts).toISOString()} is more than the allowed lateness behind ${new Date(this.maxTs).toISOString()} (line ${lineNo}); raise --lateness to keep such events`,
      );
    }
    if (e.ts > this.maxTs) this.maxTs = e.ts;
    if (explicitId) {
      this.seen.set(e.eventId, e.ts);
      this.order.push(e.eventId);
    }
    return null;
  }

  /**
   * Forgets ids older than the watermark: a repeat of one carries the same
   * timestamp and is refused as late anyway.
   */
  prune(): void {
    const watermark = this.maxTs - this.latenessMs;
    const order = this.order;
    while (this.orderHead < order.length) {
      const id = order[this.orderHead] as string;
      const ts = this.seen.get(id);
      if (ts !== undefined && ts >= watermark) break;
      this.seen.delete(id);
      this.orderHead++;
    }
    if (this.orderHead > 4_096 && this.orderHead * 2 > order.length) {
      order.splice(0, this.orderHead);
      this.orderHead = 0;
    }
  }
}

/**
 * Sessionizes the lines (chunks of whole lines, as readLineChunks yields them) and writes each
 * session once it is final; sessions still open at the end close with FLUSH.
 */
export async function sessionizeLines(
  chunks: AsyncIterable<Buffer>,
  writer: SessionWriter,
  opts: SessionizeOptions,
  report: RejectionReporter,
): Promise<SessionizeSummary> {
  const sessionizer = new Sessionizer({ ...opts, allowedLatenessMs: opts.latenessMs, newId: randomUUID });
  const store = new WindowedSessionStore();
  const admission = new Admission(opts.latenessMs);
  const parser = new LineParser(lineNumberIds());
  const batchSize = opts.batchSize ?? DEFAULT_BATCH;
  const summary: SessionizeSummary = {
    lines: 0,
    events: 0,
    duplicates: 0,
    rejected: 0,
    rejectedByCode: {},
    sessions: 0,
    peakRetainedEvents: 0,
  };
  const reject = (lineNo: number, r: LineRejection): void => {
    summary.rejected++;
    summary.rejectedByCode[r.code] = (summary.rejectedByCode[r.code] ?? 0) + 1;
    report(lineNo, r);
  };

  let batch: SessionEvent[] = [];
  const runPending = async (): Promise<void> => {
    if (batch.length > 0) {
      await runBatch(sessionizer, batch, store, Date.now());
      summary.events += batch.length;
      batch = [];
    }
    const retained = store.size().events;
    if (retained > summary.peakRetainedEvents) summary.peakRetainedEvents = retained;
    for (const s of store.takeFinal(sessionizer.watermark())) writer.write(s);
    admission.prune();
    await writer.flush();
  };

  let lineNo = 0;
  for await (const buf of chunks) {
    for (let pos = 0; pos < buf.length; ) {
      const next = nextLine(buf, pos);
      const end = lineTextEnd(buf, pos, next);
      const start = pos;
      pos = next;
      lineNo++;
      if (isBlankBytes(buf, start, end)) continue;
      const e = parser.eventFromBytes(buf, start, end, lineNo);
      if (e instanceof LineRejection) {
        reject(lineNo, e);
        continue;
      }
      const verdict = admission.admit(e, parser.hadEventId, lineNo);
      if (verdict === null) {
        batch.push(e);
        if (batch.length >= batchSize) await runPending();
      } else if (verdict === 'duplicate') summary.duplicates++;
      else reject(lineNo, verdict);
    }
  }
  summary.lines = lineNo;
  await runPending();
  sessionizer.flush(undefined, Date.now());
  await persistChanges(sessionizer, store);
  for (const s of store.takeFinal(Number.POSITIVE_INFINITY)) writer.write(s);
  await writer.end();
  summary.sessions = writer.written;
  return summary;
}
