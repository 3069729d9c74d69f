/**
 * The one ingest path behind every entry (GraphQL mutations, the Segment
 * endpoints): batch bound, validation, the single writer, and the report
 * that metrics hear. Callers check the caller's role first.
 */
import { CodedError, codeOf, ErrorCode } from '../errors.ts';
import { validateEvents, type EventInput, type Rejection, type ValidEvent } from './validate.ts';

/** How one ingest request ended, as an {@link IngestObserver} sees it. */
export interface IngestReport {
  /** Events in the request. */
  readonly events: number;
  readonly accepted: number;
  readonly duplicates: number;
  /** Events refused one by one (validation), each with its code. */
  readonly rejected: readonly Rejection[];
  /** The code the whole request failed with (its other events were not stored), or null. */
  readonly failure: string | null;
}

/** Told about every ingest request that got past the role check (metrics). */
export interface IngestObserver {
  ingested(report: IngestReport): void;
}

/** What submitting needs from the service. */
export interface SubmitContext {
  /** Resolves once the events and the session changes they cause are committed. */
  readonly writer: { ingest(events: readonly ValidEvent[]): Promise<{ accepted: number; duplicates: number }> };
  readonly nowMs: number;
  readonly maxFutureSkewMs: number;
  readonly maxBatchSize: number;
  /** Largest properties (JSON bytes); validation's default when absent. */
  readonly maxPropertiesBytes?: number;
}

/** Result of one ingest request. */
export interface SubmitResult {
  readonly accepted: number;
  readonly duplicates: number;
  readonly rejected: Rejection[];
}

function errorCode(error: unknown): string {
  return codeOf(error) ?? ErrorCode.Internal;
}

/**
 * Validates `inputs` and hands the valid ones to the writer; answers after
 * the commit. A batch over maxBatchSize is refused whole (BATCH_TOO_LARGE);
 * malformed events are rejected by index while the others are kept. Writer
 * failures (SERVICE_UNAVAILABLE, SHUTTING_DOWN) are thrown after the report.
 */
export async function submitEvents(inputs: readonly EventInput[], ctx: SubmitContext, observer: IngestObserver): Promise<SubmitResult> {
  if (inputs.length > ctx.maxBatchSize) {
    observer.ingested({ events: inputs.length, accepted: 0, duplicates: 0, rejected: [], failure: ErrorCode.BatchTooLarge });
    throw new CodedError(
      ErrorCode.BatchTooLarge,
      `a batch holds at most ${ctx.maxBatchSize} events (MAX_BATCH_SIZE); this one has ${inputs.length}`,
      { maxBatchSize: ctx.maxBatchSize },
    );
  }
  const { valid, rejected } = validateEvents(inputs, {
    nowMs: ctx.nowMs,
    maxFutureSkewMs: ctx.maxFutureSkewMs,
    ...(ctx.maxPropertiesBytes === undefined ? {} : { maxPropertiesBytes: ctx.maxPropertiesBytes }),
  });
  let committed = { accepted: 0, duplicates: 0 };
  try {
    if (valid.length > 0) committed = await ctx.writer.ingest(valid);
  } catch (error) {
    observer.ingested({ events: inputs.length, ...committed, rejected, failure: errorCode(error) });
    throw error;
  }
  observer.ingested({ events: inputs.length, ...committed, rejected, failure: null });
  return { ...committed, rejected };
}
