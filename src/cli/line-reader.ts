import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';

const NEWLINE = 10;
/** Bytes per read from a file: large reads keep the per-chunk cost negligible. */
const FILE_CHUNK_BYTES = 1 << 20;

/** An input of JSON lines: a file path or "-" for stdin. */
export interface LineInput {
  readonly stream: Readable;
  /** For messages: the path as given, or "stdin". */
  readonly label: string;
}

/** Opens `arg` ("-" = stdin). Open errors surface on the first read. */
export function openLineInput(arg: string, stdin: Readable = process.stdin): LineInput {
  if (arg === '-') return { stream: stdin, label: 'stdin' };
  return { stream: createReadStream(arg, { highWaterMark: FILE_CHUNK_BYTES }), label: arg };
}

/**
 * The input in chunks of whole lines: each yielded buffer ends with "\n",
 * except possibly the last. Lines are cut in the bytes, so a UTF-8 character
 * is never split; a byte-order mark at the start is dropped. Memory: one
 * read chunk plus the longest line. A line cut between two reads comes as a
 * chunk of its own, so reads are never copied whole.
 */
export async function* readLineChunks(stream: AsyncIterable<Buffer | string>): AsyncGenerator<Buffer> {
  /** The start of a line cut between reads, maybe over several. */
  let rest: Buffer[] = [];
  let first = true;
  for await (const chunk of stream) {
    let buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    if (first && buf.length >= 3 && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf) buf = buf.subarray(3);
    first = false;
    if (rest.length > 0) {
      const nl = buf.indexOf(NEWLINE);
      if (nl < 0) {
        rest.push(Buffer.from(buf));
        continue;
      }
      // The line begun in an earlier read, on its own; then this read's whole lines as they are.
      rest.push(buf.subarray(0, nl + 1));
      yield Buffer.concat(rest);
      rest = [];
      buf = buf.subarray(nl + 1);
    }
    const last = buf.lastIndexOf(NEWLINE);
    if (last + 1 < buf.length) rest.push(Buffer.from(buf.subarray(last + 1)));
    if (last >= 0) yield buf.subarray(0, last + 1);
  }
  if (rest.length > 0) yield Buffer.concat(rest);
}
