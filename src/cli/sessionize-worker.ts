/**
 * A worker of `sessions sessionize` on several threads
 * (sessionize-threaded.ts). It parses the chunks of the file it is given
 * (line-events.ts, as the main thread does for standard input), splits
 * their events by user partition, keeps its own partition's and sends the
 * other's to its peer; then it cuts its partition's events chunk after
 * chunk, in file order (sessionize.ts SessionCutter: lateness, order, the
 * core, the output), and posts the sessions' text to the main thread.
 */
import { openSync, readSync } from 'node:fs';
import { Writable } from 'node:stream';
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import type { LineOptions, LineRefusal } from './line-events.ts';
import { readLines } from './line-events.ts';
import { PartBuilder, PARTITIONS, partitionOf, replayPart, type EventPart } from './parsed-chunk.ts';
import { SessionWriter, type OutputFormat } from './session-output.ts';
import { LINES_PER_CHUNK, SessionCutter, type SessionizeOptions, type SessionizeSummary } from './sessionize.ts';

/** What the main thread sets up (conversionEvents as a list: a Set does not cross). */
export interface WorkerSetup {
  readonly path: string;
  readonly opts: Omit<SessionizeOptions, 'conversionEvents'> & { readonly conversionEvents: readonly string[] };
  readonly format: OutputFormat;
  /** This worker's user partition (0 or 1). */
  readonly partition: number;
  readonly chunks: number;
  /** The file's size and the chunks' (chunk i is the lines that begin in [i * chunkBytes, (i + 1) * chunkBytes)). */
  readonly size: number;
  readonly chunkBytes: number;
  /** Whether events sent to the peer carry their properties (a definition's filter reads them; parsed-chunk.ts). */
  readonly withProperties: boolean;
  readonly peer: MessagePort;
}

/** One chunk to parse: the lines that begin in [start, end) of the file. */
export interface ChunkTask {
  readonly index: number;
  readonly start: number;
  readonly end: number;
}

/** Messages to the main thread. */
export type WorkerMessage =
  | { readonly kind: 'parsed'; readonly index: number; readonly lines: number; readonly refusals: LineRefusal[] }
  | { readonly kind: 'cut'; readonly index: number; readonly partition: number; readonly late: LineRefusal[]; readonly output: Uint8Array[] }
  | { readonly kind: 'done'; readonly partition: number; readonly summary: SessionizeSummary; readonly output: Uint8Array[] };

const NEWLINE = 10;
/** Bytes read at a time past the end of a range, to finish its last line. */
const TAIL_READ = 64 * 1024;

const setup = workerData as WorkerSetup;
const fd = openSync(setup.path, 'r');
const limits: LineOptions = setup.opts;
/** Posts a message, moving (not copying) the output's buffers: the writer never reuses one it handed over. */
const post = (m: WorkerMessage): void =>
  parentPort?.postMessage(m, m.kind === 'parsed' ? [] : m.output.map((o) => o.buffer as ArrayBuffer));

/** The text of the lines beginning in [start, end). */
function rangeText(start: number, end: number): string {
  const r = rangeBytes(start, end);
  return r.buf.toString('utf8', r.begin, r.stop);
}

/** The bytes of the lines beginning in [start, end): buf[begin, stop), buf read from file offset `from`. */
function rangeBytes(start: number, end: number): { buf: Buffer; from: number; begin: number; stop: number } {
  // One byte before the range tells whether a line begins at `start`.
  const from = start === 0 ? 0 : start - 1;
  let buf = Buffer.allocUnsafe(end - from + TAIL_READ);
  let len = readSync(fd, buf, 0, buf.length, from);
  let begin = 0;
  if (start > 0) {
    const nl = buf.indexOf(NEWLINE);
    begin = nl < 0 ? len : nl + 1;
  } else if (len >= 3 && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf) {
    begin = 3; // a byte-order mark
  }
  if (begin >= end - from) return { buf, from, begin: 0, stop: 0 };
  // The last line that begins in the range may end beyond it.
  let stop = buf.indexOf(NEWLINE, end - from - 1);
  while (stop < 0) {
    const before = len;
    if (len === buf.length) {
      const grown = Buffer.allocUnsafe(buf.length * 2);
      buf.copy(grown, 0, 0, len);
      buf = grown;
    }
    const n = readSync(fd, buf, len, buf.length - len, from + len);
    len += n;
    if (n === 0) {
      stop = len - 1;
      break;
    }
    stop = buf.indexOf(NEWLINE, before);
  }
  return { buf, from, begin, stop: Math.min(stop + 1, len) };
}

// The cutting side: this partition's events, chunk after chunk.
const output: Uint8Array[] = [];
const sink = new Writable({
  highWaterMark: 1 << 30, // never asks to wait: the main thread paces the chunks
  write(chunk: Buffer, _encoding, done) {
    output.push(chunk);
    done();
  },
});
const writer = new SessionWriter(sink, setup.format, false);
let late: LineRefusal[] = [];
const cutter = new SessionCutter(
  { ...setup.opts, conversionEvents: new Set(setup.opts.conversionEvents) },
  writer,
  (r) => late.push(r),
  recall,
);
const parts = new Map<number, EventPart>();
let next = 0;

function cutReady(): void {
  for (let part = parts.get(next); part !== undefined; part = parts.get(next)) {
    parts.delete(next);
    late = [];
    replayPart(part, cutter);
    cutter.release();
    void writer.flush(true); // hands the text to `sink` at once (it never asks to wait)
    post({ kind: 'cut', index: next, partition: setup.partition, late, output: output.splice(0) });
    next++;
  }
  if (next === setup.chunks) {
    next++;
    const summary = cutter.end(0);
    void writer.end();
    post({ kind: 'done', partition: setup.partition, summary, output: output.splice(0) });
  }
}

/**
 * Where each line of a chunk begins in the file (and, last, where the
 * chunk's lines end), for the chunks recall read lately, the latest used
 * last. 8 bytes a line: 64 chunks hold about 5 MB. Ties a file sorted by
 * user spreads over every chunk (with --lateness unlimited) stay cheap
 * while the file has at most 64 chunks, and cost one scan of a chunk's
 * bytes each beyond that.
 */
const lineStarts = new Map<number, Float64Array>();
const INDEXED_CHUNKS = 64;

/** Where the lines of chunk `index` begin in the file, its end last. */
function lineStartsOf(index: number): Float64Array {
  let starts = lineStarts.get(index);
  if (starts !== undefined) {
    lineStarts.delete(index); // used last: evicted last
  } else {
    const start = index * setup.chunkBytes;
    const { buf, from, begin, stop } = rangeBytes(start, Math.min(setup.size, start + setup.chunkBytes));
    const at: number[] = [];
    for (let p = begin; p < stop; ) {
      at.push(from + p);
      const nl = buf.indexOf(NEWLINE, p);
      p = nl < 0 || nl >= stop ? stop : nl + 1;
    }
    at.push(from + stop);
    starts = Float64Array.from(at);
    if (lineStarts.size >= INDEXED_CHUNKS) lineStarts.delete(lineStarts.keys().next().value as number);
  }
  lineStarts.set(index, starts);
  return starts;
}

/**
 * The properties of an event whose line the peer read, its properties left
 * behind (parsed-chunk.ts): that line read again from the file, the same way.
 */
function recall(at: number): string | null {
  const index = Math.floor(at / LINES_PER_CHUNK);
  const line = at - index * LINES_PER_CHUNK;
  const starts = lineStartsOf(index);
  const from = starts[line];
  const to = starts[line + 1];
  if (from === undefined || to === undefined) throw new Error(`internal error: chunk ${index} has no line ${line}`);
  const buf = Buffer.allocUnsafe(to - from);
  const read = readSync(fd, buf, 0, buf.length, from);
  let properties: string | null | undefined;
  readLines(buf.toString('utf8', 0, read), 0, limits, {
    event: (e) => void (properties = e.properties),
    refuse: () => undefined,
  });
  if (properties === undefined) throw new Error(`internal error: line ${line} of chunk ${index} is no longer an event`);
  return properties;
}

function parse(task: ChunkTask): void {
  const builders = Array.from({ length: PARTITIONS }, (_, p) => new PartBuilder(p === setup.partition, setup.withProperties));
  const refusals: LineRefusal[] = [];
  let newest = Number.NEGATIVE_INFINITY;
  const lines = readLines(rangeText(task.start, task.end), 0, limits, {
    event(e, line) {
      (builders[partitionOf(e.userId)] as PartBuilder).add(e, line, newest);
      if (e.ts > newest) newest = e.ts;
    },
    refuse(r) {
      refusals.push(r);
    },
  });
  post({ kind: 'parsed', index: task.index, lines, refusals });
  builders.forEach((b, p) => {
    const part = b.build(task.index, newest);
    if (p === setup.partition) parts.set(task.index, part);
    else setup.peer.postMessage(part, [part.ts.buffer, part.value.buffer, part.before.buffer, part.line.buffer] as ArrayBuffer[]);
  });
  cutReady();
}

parentPort?.on('message', parse);
setup.peer.on('message', (part: EventPart) => {
  parts.set(part.index, part);
  cutReady();
});
if (setup.chunks === 0) cutReady();
