/** Text out of Buffers on hot paths. */

const UTF8_SLICE = (Buffer.prototype as unknown as { utf8Slice: (this: Buffer, start: number, end: number) => string })
  .utf8Slice;

/**
 * buf.toString('utf8', start, end) without its argument checks: Buffer's
 * native slice (not in @types/node). The result is a flat string, unlike a
 * concatenation, which V8 keeps as a tree of pieces until something flattens it.
 */
export function decodeUtf8(buf: Buffer, start: number, end: number): string {
  return UTF8_SLICE.call(buf, start, end);
}
