/**
 * A parse worker of `sessions sessionize` (sessionize-threaded.ts): reads the
 * byte ranges it is given from the file, parses and checks their lines
 * (line-events.ts, as the main thread does for standard input) and posts
 * each chunk back as a ParsedChunk.
 */
import { openSync, readSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import type { ValidationLimits } from '../ingest/validate.ts';
import { readLines } from './line-events.ts';
import { ChunkBuilder } from './parsed-chunk.ts';

/** What the main thread sets up. */
export interface WorkerSetup {
  readonly path: string;
  readonly limits: ValidationLimits;
}

/** One chunk to parse: the lines that begin in [start, end) of the file. */
export interface ChunkTask {
  readonly index: number;
  readonly start: number;
  readonly end: number;
}

const NEWLINE = 10;
/** Bytes read at a time past the end of a range, to finish its last line. */
const TAIL_READ = 64 * 1024;

const setup = workerData as WorkerSetup;
const fd = openSync(setup.path, 'r');

/** The text of the lines beginning in [start, end). */
function rangeText(start: number, end: number): string {
  // One byte before the range tells whether a line begins at `start`.
  const from = start === 0 ? 0 : start - 1;
  let buf = Buffer.allocUnsafe(end - from + TAIL_READ);
  let len = readSync(fd, buf, 0, buf.length, from);
  let begin = 0;
  if (start > 0) {
    const nl = buf.indexOf(NEWLINE);
    begin = nl < 0 || nl >= end - from ? len : nl + 1;
  } else if (len >= 3 && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf) {
    begin = 3; // a byte-order mark
  }
  if (begin >= end - from) return '';
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
  return buf.toString('utf8', begin, Math.min(stop + 1, len));
}

// The main thread terminates the worker when the file is done (the descriptor closes with it).
parentPort?.on('message', (task: ChunkTask) => {
  const chunk = new ChunkBuilder();
  const lines = readLines(rangeText(task.start, task.end), 0, setup.limits, chunk);
  const parsed = chunk.build(task.index, lines);
  parentPort?.postMessage(parsed, [parsed.ts.buffer as ArrayBuffer, parsed.value.buffer as ArrayBuffer, parsed.line.buffer as ArrayBuffer]);
});
