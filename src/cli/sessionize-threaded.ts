/**
 * sessionizeLines() on two threads, for large files: this thread reads,
 * parses and admits the lines (LineAdmission) while a worker thread
 * (sessionize-worker.ts) orders the events, cuts the sessions and writes
 * them to the output; each is about half the work. This thread starts at
 * once; the worker catches up with the batches queued while it starts.
 */
import { Worker } from 'node:worker_threads';
import { BatchWriter } from './event-batch.ts';
import { LineParser } from './json-line.ts';
import { LineAdmission } from './line-admission.ts';
import { openLineInput, readLineChunks } from './line-reader.ts';
import type { OutputFormat } from './session-output.ts';
import { RejectionCounter, type RejectionReporter } from './report.ts';
import type { SessionizeOptions, SessionizeSummary } from './sessionize.ts';
import type { FromWorker, ToWorker, WorkerSetup } from './worker-messages.ts';

/**
 * Batches sent and not yet done by the worker before reading waits: enough
 * to cover the worker's start (about 10,000 events each, in columns), few
 * enough for flat memory.
 */
const IN_FLIGHT = 32;

/**
 * Starts the worker. It is TypeScript, so it registers tsx's loader first,
 * as bin/sessions.js does for this thread (a worker does not inherit it).
 */
function startWorker(setup: WorkerSetup): Worker {
  const loader = import.meta.resolve('tsx/esm/api');
  const entry = new URL('./sessionize-worker.ts', import.meta.url).href;
  const code = `import { register } from ${JSON.stringify(loader)}; register(); await import(${JSON.stringify(entry)});`;
  return new Worker(new URL(`data:text/javascript,${encodeURIComponent(code)}`), { workerData: setup });
}

/** The worker's messages as a queue to await; fails with the worker's error, or if it stops early. */
class Inbox {
  private readonly messages: FromWorker[] = [];
  private waiting: { resolve: (m: FromWorker) => void; reject: (e: Error) => void } | null = null;
  private failure: Error | null = null;

  constructor(worker: Worker) {
    worker.on('message', (m: FromWorker) => {
      const w = this.waiting;
      this.waiting = null;
      if (w === null) this.messages.push(m);
      else w.resolve(m);
    });
    worker.on('error', (e: Error) => this.fail(e));
    worker.on('exit', (code) => this.fail(new Error(`the sessionize worker stopped (exit code ${code})`)));
  }

  next(): Promise<FromWorker> {
    const m = this.messages.shift();
    if (m !== undefined) return Promise.resolve(m);
    if (this.failure !== null) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => (this.waiting = { resolve, reject }));
  }

  private fail(e: Error): void {
    this.failure ??= e;
    const w = this.waiting;
    this.waiting = null;
    w?.reject(e);
  }
}

/**
 * Like sessionizeLines() for the file at `path`, writing the sessions to the
 * file descriptor `fd` (the worker writes them itself).
 */
export async function sessionizeFileThreaded(
  path: string,
  fd: number,
  format: OutputFormat,
  opts: SessionizeOptions,
  report: RejectionReporter,
): Promise<SessionizeSummary> {
  const worker = startWorker({ rules: opts, format, fd });
  const inbox = new Inbox(worker);
  const rejections = new RejectionCounter(report);
  const parser = new LineParser();
  const batches = new BatchWriter(parser.strings);
  const admission = new LineAdmission(
    opts.latenessMs,
    { admitted: (fields, lineNo) => batches.add(fields, lineNo), reject: rejections.reject },
    parser,
  );
  let inFlight = 0;
  const send = (message: ToWorker, transfer: ArrayBuffer[] = []): void => worker.postMessage(message, transfer);
  const expect = async <T extends FromWorker['type']>(type: T): Promise<Extract<FromWorker, { type: T }>> => {
    const m = await inbox.next();
    if (m.type !== type) throw new Error(`the sessionize worker sent ${m.type}, expected ${type}`);
    return m as Extract<FromWorker, { type: T }>;
  };
  try {
    for await (const chunk of readLineChunks(openLineInput(path).stream)) {
      admission.lines(chunk);
      batches.setWatermark(admission.watermark());
      const { batch, transfer } = batches.take();
      send({ type: 'batch', batch }, transfer);
      if (++inFlight >= IN_FLIGHT) {
        await expect('ack');
        inFlight--;
      }
    }
    send({ type: 'end', watermark: admission.watermark() });
    for (; inFlight > 0; inFlight--) await expect('ack');
    const done = await expect('done');
    return {
      ...admission.counts,
      rejected: rejections.rejected,
      rejectedByCode: rejections.byCode,
      sessions: done.sessions,
      peakHeldEvents: done.peakHeldEvents,
    };
  } finally {
    await worker.terminate();
  }
}
