/** Messages between `sessions sessionize` and its worker thread (sessionize-worker.ts). */
import type { SessionRules } from '../sessionizer/types.ts';
import type { EventBatch } from './event-batch.ts';
import type { OutputFormat } from './session-output.ts';

/** The worker's workerData. */
export interface WorkerSetup {
  readonly rules: SessionRules;
  readonly format: OutputFormat;
  /** The file descriptor the sessions go to (1: stdout). */
  readonly fd: number;
}

/** Admitted events of the next chunk of lines; after the last, 'end' with the final watermark. */
export type ToWorker =
  | { readonly type: 'batch'; readonly batch: EventBatch }
  | { readonly type: 'end'; readonly watermark: number };

/** 'ack' once per batch, when the worker is done with it; 'done' once the sessions are written. */
export type FromWorker =
  | { readonly type: 'ack' }
  | { readonly type: 'done'; readonly sessions: number; readonly peakHeldEvents: number };
