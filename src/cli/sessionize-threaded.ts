/**
 * `sessions sessionize` of a file on several threads: WORKERS parse workers
 * (sessionize-worker.ts) each read, parse and check byte ranges of the file
 * (the lines that begin in CHUNK_BYTES-sized ranges, taken in turn), while
 * this thread takes their results in file order and does the rest
 * (sessionize.ts SessionCutter: lateness, order, the core, the output).
 * Results arriving early wait for their turn; at most IN_FLIGHT chunks are
 * out at once, so memory stays bounded whatever the file's size.
 */
import { stat } from 'node:fs/promises';
import { Worker } from 'node:worker_threads';
import type { ParsedChunk } from './parsed-chunk.ts';
import { replayChunk } from './parsed-chunk.ts';
import type { SessionWriter } from './session-output.ts';
import { SessionCutter, type RefusalReporter, type SessionizeOptions, type SessionizeSummary } from './sessionize.ts';
import type { ChunkTask, WorkerSetup } from './sessionize-worker.ts';

const WORKERS = 2;
const CHUNK_BYTES = 2 * 1024 * 1024;
/** Chunks handed out and not yet consumed (two per worker keeps both busy). */
const IN_FLIGHT = 2 * WORKERS;

/**
 * Starts a worker. Bundled (dist/cli, bin/sessions.js), this module is
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

/** Sessionizes the file at `path`; sessions still open at the end close with FLUSH. chunkBytes: for tests. */
export async function sessionizeFileThreaded(
  path: string,
  writer: SessionWriter,
  opts: SessionizeOptions,
  report: RefusalReporter,
  chunkBytes = CHUNK_BYTES,
): Promise<SessionizeSummary> {
  const size = (await stat(path)).size;
  const chunks = Math.max(1, Math.ceil(size / chunkBytes));
  const workers = Array.from({ length: WORKERS }, () =>
    startWorker({ path, limits: { nowMs: opts.nowMs, maxFutureSkewMs: opts.maxFutureSkewMs } }),
  );
  const arrived = new Map<number, ParsedChunk>();
  let wake: (() => void) | null = null;
  let failure: Error | null = null;
  for (const w of workers) {
    w.on('message', (c: ParsedChunk) => {
      arrived.set(c.index, c);
      wake?.();
    });
    w.on('error', (error: Error) => {
      failure ??= error;
      wake?.();
    });
  }
  let handedOut = 0;
  const handOut = (): void => {
    const task: ChunkTask = { index: handedOut, start: handedOut * chunkBytes, end: Math.min(size, (handedOut + 1) * chunkBytes) };
    (workers[handedOut % WORKERS] as Worker).postMessage(task);
    handedOut++;
  };
  try {
    while (handedOut < Math.min(chunks, IN_FLIGHT)) handOut();
    const cutter = new SessionCutter(opts, writer, report);
    let lines = 0;
    for (let next = 0; next < chunks; next++) {
      let c = arrived.get(next);
      while (c === undefined) {
        if (failure !== null) throw failure;
        await new Promise<void>((resolve) => (wake = resolve));
        wake = null;
        c = arrived.get(next);
      }
      arrived.delete(next);
      if (handedOut < chunks) handOut();
      replayChunk(c, lines + 1, cutter);
      lines += c.lines;
      cutter.release();
      await writer.flush();
    }
    const summary = cutter.end(lines);
    await writer.end();
    return summary;
  } finally {
    for (const w of workers) void w.terminate();
  }
}
