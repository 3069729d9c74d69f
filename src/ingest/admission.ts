import { CodedError, ErrorCode } from '../errors.ts';

/** `extensions.reason` of an admission refusal: the instance is overloaded, not failing. */
export const OVERLOADED = 'OVERLOADED';

/** Shortest and longest retry hint (ms): sooner is a busy loop, later outlives any queue drain. */
const MIN_RETRY_AFTER_MS = 50;
const MAX_RETRY_AFTER_MS = 30_000;
/** Hint before the first commit was measured. */
const DEFAULT_RETRY_AFTER_MS = 1_000;
/** Weight of the newest commit in the throughput average. */
const SMOOTHING = 0.3;

/**
 * An ingest refused at once because the writer already holds
 * MAX_QUEUED_EVENTS (admission control). SERVICE_UNAVAILABLE like an outage,
 * so every client's retry logic applies, with `retryAfterMs` and
 * `reason: OVERLOADED`; nothing of the request was saved. The cluster router
 * passes it to the client instead of retrying it itself: retrying inside the
 * instance would hold the request (and its memory) the bound exists to shed.
 */
export class AdmissionRefused extends CodedError {
  override readonly name = 'AdmissionRefused';

  constructor(
    readonly retryAfterMs: number,
    message: string,
  ) {
    super(ErrorCode.Unavailable, message, { retryAfterMs, reason: OVERLOADED });
  }

  /** The refusal of this instance's writer holding `pending` of at most `limit` events. */
  static of(retryAfterMs: number, pending: number, limit: number): AdmissionRefused {
    return new AdmissionRefused(
      retryAfterMs,
      `overloaded: ${pending} events are waiting for a commit (MAX_QUEUED_EVENTS ${limit}); nothing of this request was saved, retry in ${retryAfterMs} ms`,
    );
  }
}

/** True for an admission refusal, as thrown here or rebuilt from another instance's answer. */
export function isAdmissionRefusal(error: unknown): error is CodedError {
  return error instanceof CodedError && error.extensions['reason'] === OVERLOADED;
}

/**
 * The writer's recent throughput (events per second of commit time, a moving
 * average), to tell a refused client when the backlog will have drained.
 */
export class Throughput {
  private eventsPerSecond = 0;

  /** Records one commit of `events` events that took `seconds`. */
  record(events: number, seconds: number): void {
    if (events === 0 || seconds <= 0) return;
    const rate = events / seconds;
    this.eventsPerSecond = this.eventsPerSecond === 0 ? rate : SMOOTHING * rate + (1 - SMOOTHING) * this.eventsPerSecond;
  }

  /** Milliseconds until `backlog` events are likely committed, within [50 ms, 30 s]. */
  retryAfterMs(backlog: number): number {
    if (this.eventsPerSecond === 0) return DEFAULT_RETRY_AFTER_MS;
    const ms = Math.round((backlog / this.eventsPerSecond) * 1_000);
    return Math.min(MAX_RETRY_AFTER_MS, Math.max(MIN_RETRY_AFTER_MS, ms));
  }
}
