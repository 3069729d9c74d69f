/** Messages between `sessions sessionize` and its worker thread (sessionize-worker.ts). */
import type { SessionRules } from '../sessionizer/types.ts';
import type { EventBatch } from './event-batch.ts';
import type { OutputFormat } from './session-output.ts';

/** The worker's workerData. */
export interface WorkerSetup {
  readonly rules: SessionRules;
  readonly format: OutputFormat;
  /**
   * A regular file's descriptor the worker writes the sessions to itself, or
   * null: it sends them to the main thread ('output'), which writes them to
   * its stream. A pipe or terminal is non-blocking once the main thread has
   * opened it as a stream, and a plain write() on it from the worker fails
   * (EAGAIN) whenever the reader is slower than we are.
   */
  readonly fd: number | null;
}

/**
 * The next events in key order, all before the batch's watermark; after the
 * last batch, 'end'. 'written' once per 'output', when it is written.
 */
export type ToWorker =
  | { readonly type: 'batch'; readonly batch: EventBatch }
  | { readonly type: 'end' }
  | { readonly type: 'written' };

/**
 * 'ack' once per batch, when the worker is done with it; 'done' once the
 * sessions are written. 'output': sessions for the main thread to write (fd null).
 */
export type FromWorker =
  | { readonly type: 'ack' }
  | { readonly type: 'done'; readonly sessions: number }
  | { readonly type: 'output'; readonly chunk: Uint8Array };
