/**
 * `sessions sessionize` of a file on two worker threads
 * (sessionize-worker.ts), each parsing every other chunk of the file (the
 * lines that begin in a CHUNK_BYTES range) and cutting the sessions of half
 * of the users (a hash of userId), so both cores parse and both cut. This
 * thread hands out the chunks, at most IN_FLIGHT ahead of the slowest
 * cutter (and none while the output waits for its reader), so memory stays
 * bounded; and, once each chunk is through both cutters, writes its
 * sessions (partition by partition: the same file gives the same output on
 * every run) and reports its bad lines with their numbers, in file order.
 */
import { once } from 'node:events';
import { stat } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import { MessageChannel, Worker } from 'node:worker_threads';
import type { LineRefusal } from './line-events.ts';
import { outputEnd, outputStart, type OutputFormat } from './session-output.ts';
import type { RefusalReporter, SessionizeOptions, SessionizeSummary } from './sessionize.ts';
import { readsProperties } from '../definitions/filter.ts';
import { PARTITIONS } from './parsed-chunk.ts';
import type { ChunkTask, WorkerMessage, WorkerSetup } from './sessionize-worker.ts';

const CHUNK_BYTES = 2 * 1024 * 1024;
/** Chunks handed out and not yet through both cutters. */
const IN_FLIGHT = 6;
/**
 * Each worker's young generation, larger than V8's default: the events and
 * sessions of a few chunks live in it, so fewer survive into the old
 * generation. 1M lines: about 9% less wall time (median of paired runs on a
 * noisy machine), 40-60 MB more peak memory.
 */
const YOUNG_GENERATION_MB = 96;

/**
 * Starts a worker. Bundled (dist/cli, bin/sessions.js), this module is
 * JavaScript and the worker's bundle sits beside it; run from the sources,
 * the worker is TypeScript and registers tsx's loader first, as
 * bin/sessions.js does for this thread (a worker does not inherit it).
 */
function startWorker(setup: WorkerSetup): Worker {
  const options = { workerData: setup, transferList: [setup.peer], resourceLimits: { maxYoungGenerationSizeMb: YOUNG_GENERATION_MB } };
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./sessionize-worker.js', import.meta.url), options);
  const loader = import.meta.resolve('tsx/esm/api');
  const entry = new URL('./sessionize-worker.ts', import.meta.url).href;
  const code = `import { register } from ${JSON.stringify(loader)}; register(); await import(${JSON.stringify(entry)});`;
  return new Worker(new URL(`data:text/javascript,${encodeURIComponent(code)}`), options);
}

/** What this thread knows of a chunk until it is reported. */
interface ChunkState {
  parsed: boolean;
  lines: number;
  refusals: LineRefusal[];
  cut: number;
  /** Each partition's sessions text: written in partition order, so that a file gives the same output on every run. */
  output: Uint8Array[][];
}

/** Sessionizes the file at `path` into `out`; sessions still open at the end close with FLUSH. chunkBytes: for tests. */
export async function sessionizeFileThreaded(
  path: string,
  out: Writable,
  format: OutputFormat,
  opts: SessionizeOptions,
  report: RefusalReporter,
  chunkBytes = CHUNK_BYTES,
): Promise<SessionizeSummary> {
  const size = (await stat(path)).size;
  const chunks = Math.ceil(size / chunkBytes);
  const channel = new MessageChannel();
  const workers = [channel.port1, channel.port2].map((peer, partition) =>
    startWorker({
      path,
      opts: { ...opts, conversionEvents: [...opts.conversionEvents] },
      format,
      partition,
      chunks,
      size,
      chunkBytes,
      withProperties: opts.definitions?.some((d) => d.filter !== null && readsProperties(d.filter)) ?? false,
      peer,
    }),
  );
  let failure: Error | null = null;
  let outputFailure: Error | null = null;
  out.on('error', (error: Error) => (outputFailure ??= error));
  let wake: (() => void) | null = null;
  const state = new Map<number, ChunkState>();
  const stateOf = (i: number): ChunkState => {
    let s = state.get(i);
    if (s === undefined) state.set(i, (s = { parsed: false, lines: 0, refusals: [], cut: 0, output: [] }));
    return s;
  };
  const summaries: SessionizeSummary[] = [];
  const finalOutput: Uint8Array[][] = [];
  let lines = 0;
  let reported = 0;
  let first = format === 'json'; // the first session of a JSON array comes without its comma
  const write = (chunks: Uint8Array[]): void => {
    for (const c of chunks) {
      if (c.length === 0) continue;
      out.write(first ? c.subarray(1) : c);
      first = false;
    }
  };
  const parseRefused = { count: 0, byCode: {} as Record<string, number> };
  /** Reports the chunks through both cutters, in file order. */
  const reportReady = (): void => {
    for (let s = state.get(reported); s?.parsed === true && s.cut === PARTITIONS; s = state.get(reported)) {
      for (const r of s.refusals.sort((a, b) => a.line - b.line)) {
        if (r.code !== 'LATE_EVENT') {
          parseRefused.count++;
          parseRefused.byCode[r.code] = (parseRefused.byCode[r.code] ?? 0) + 1;
        }
        report({ ...r, line: lines + 1 + r.line });
      }
      for (const part of s.output) write(part);
      lines += s.lines;
      state.delete(reported++);
    }
  };
  for (const w of workers) {
    w.on('message', (m: WorkerMessage) => {
      switch (m.kind) {
        case 'parsed': {
          const s = stateOf(m.index);
          s.parsed = true;
          s.lines = m.lines;
          s.refusals.push(...m.refusals);
          break;
        }
        case 'cut': {
          const s = stateOf(m.index);
          s.cut++;
          s.refusals.push(...m.late);
          s.output[m.partition] = m.output;
          break;
        }
        case 'done':
          finalOutput[m.partition] = m.output;
          summaries.push(m.summary);
          break;
        default:
          throw new Error(`unknown case ${JSON.stringify(m satisfies never)}`);
      }
      reportReady();
      wake?.();
    });
    w.on('error', (error: Error) => {
      failure ??= error;
      wake?.();
    });
  }
  const until = async (done: () => boolean): Promise<void> => {
    while (!done()) {
      if (failure !== null) throw failure;
      if (outputFailure !== null) throw outputFailure;
      await new Promise<void>((resolve) => (wake = resolve));
      wake = null;
    }
  };
  try {
    out.write(outputStart(format, opts.definitions !== null));
    for (let i = 0; i < chunks; i++) {
      await until(() => i - reported < IN_FLIGHT);
      if (out.writableNeedDrain) await once(out, 'drain');
      const task: ChunkTask = { index: i, start: i * chunkBytes, end: Math.min(size, (i + 1) * chunkBytes) };
      (workers[i % PARTITIONS] as Worker).postMessage(task);
    }
    await until(() => summaries.length === PARTITIONS && reported === chunks);
    for (const part of finalOutput) write(part);
    const total = merge(summaries, lines, parseRefused);
    out.write(outputEnd(format, total.sessions));
    if (out.writableNeedDrain) await once(out, 'drain');
    if (outputFailure !== null) throw outputFailure;
    return total;
  } finally {
    for (const w of workers) void w.terminate();
  }
}

/** One summary of the two cutters' and this thread's counts. */
function merge(s: SessionizeSummary[], lines: number, parseRefused: { count: number; byCode: Record<string, number> }): SessionizeSummary {
  const byCode = { ...parseRefused.byCode };
  for (const x of s) for (const [code, n] of Object.entries(x.rejectedByCode)) byCode[code] = (byCode[code] ?? 0) + n;
  const sum = (f: (x: SessionizeSummary) => number): number => s.reduce((a, x) => a + f(x), 0);
  return {
    lines,
    events: sum((x) => x.events),
    duplicates: sum((x) => x.duplicates),
    rejected: parseRefused.count + sum((x) => x.rejected),
    rejectedByCode: byCode,
    sessions: sum((x) => x.sessions),
    largestLatenessMs: Math.max(0, ...s.map((x) => x.largestLatenessMs)),
    peakHeldEvents: sum((x) => x.peakHeldEvents),
  };
}
