/**
 * sessionizeLines() on two threads, for large files: this thread reads,
 * parses, admits and orders the events (LineAdmission, EventRelease) while a
 * worker thread (sessionize-worker.ts) cuts the sessions and writes them to
 * the output; each is about half the work. This thread starts at once; the
 * worker catches up with the batches queued while it starts.
 */
import { fstatSync } from 'node:fs';
import type { Writable } from 'node:stream';
import { Worker } from 'node:worker_threads';
import { BatchWriter, refEventOf, type RefEvent } from './event-batch.ts';
import { EventRelease } from './event-release.ts';
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
 * Starts the worker. Bundled (dist/cli, bin/sessions.js), this module is
 * JavaScript and the worker's bundle sits beside it; run from the sources,
 * the worker is TypeScript and registers tsx's loader first, as
 * bin/sessions.js does for this thread (a worker does not inherit it).
 */
function startWorker(setup: WorkerSetup): Worker {
  if (!import.meta.url.endsWith('.ts')) {
    return new Worker(new URL('./sessionize-worker.js', import.meta.url), { workerData: setup });
  }
  const loader = import.meta.resolve('tsx/esm/api');
  const entry = new URL('./sessionize-worker.ts', import.meta.url).href;
  const code = `import { register } from ${JSON.stringify(loader)}; register(); await import(${JSON.stringify(entry)});`;
  return new Worker(new URL(`data:text/javascript,${encodeURIComponent(code)}`), { workerData: setup });
}

/**
 * The worker's messages as a queue to await; fails with the worker's error,
 * or if it stops early. Output chunks (FromWorker 'output') go to `output`
 * as they come instead.
 */
class Inbox {
  private readonly messages: FromWorker[] = [];
  private waiting: { resolve: (m: FromWorker) => void; reject: (e: Error) => void } | null = null;
  private failure: Error | null = null;

  constructor(worker: Worker, output: (chunk: Uint8Array) => void) {
    worker.on('message', (m: FromWorker) => {
      if (m.type === 'output') {
        output(m.chunk);
        return;
      }
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

  fail(e: Error): void {
    this.failure ??= e;
    const w = this.waiting;
    this.waiting = null;
    w?.reject(e);
  }
}

const STDOUT_FD = 1;

/** The descriptor of `out` when the worker can write to it itself: a regular file (worker-messages.ts, WorkerSetup.fd). */
function directFd(out: Writable): number | null {
  const fd = out === process.stdout ? STDOUT_FD : null;
  return fd !== null && fstatSync(fd).isFile() ? fd : null;
}

/** Like sessionizeLines() for the file at `path`, writing the sessions to `out`. */
export async function sessionizeFileThreaded(
  path: string,
  out: Writable,
  format: OutputFormat,
  opts: SessionizeOptions,
  report: RejectionReporter,
): Promise<SessionizeSummary> {
  const worker = startWorker({ rules: opts, format, fd: directFd(out) });
  // Write errors reach the callbacks below; unheard, the stream's 'error' event would end the process.
  const ignore = (): void => {};
  out.on('error', ignore);
  const inbox = new Inbox(worker, (chunk) => {
    out.write(chunk, (error) => {
      if (error === null || error === undefined) worker.postMessage({ type: 'written' } satisfies ToWorker);
      else inbox.fail(error); // EPIPE: the reader went away (main.ts)
    });
  });
  const rejections = new RejectionCounter(report);
  const parser = new LineParser();
  const batches = new BatchWriter(parser.strings);
  // Events go out in key order, each batch with the watermark they are all before.
  const release = new EventRelease<RefEvent>({ event: (e) => batches.add(e), watermark: (w) => batches.setWatermark(w) });
  const admission = new LineAdmission(
    opts.latenessMs,
    {
      admitted(fields, lineNo, watermark) {
        release.push(refEventOf(fields, lineNo));
        release.advance(watermark);
      },
      reject: rejections.reject,
    },
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
      const { batch, transfer } = batches.take();
      send({ type: 'batch', batch }, transfer);
      if (++inFlight >= IN_FLIGHT) {
        await expect('ack');
        inFlight--;
      }
    }
    release.end(admission.watermark());
    const { batch, transfer } = batches.take();
    send({ type: 'batch', batch }, transfer);
    send({ type: 'end' });
    inFlight++;
    for (; inFlight > 0; inFlight--) await expect('ack');
    const done = await expect('done');
    return {
      ...admission.counts,
      rejected: rejections.rejected,
      rejectedByCode: rejections.byCode,
      sessions: done.sessions,
      peakHeldEvents: release.peakHeld,
    };
  } finally {
    await worker.terminate();
    out.off('error', ignore);
  }
}
