/**
 * An output buffer written byte by byte: the text of hundreds of thousands
 * of sessions a second goes straight into bytes, without the many small
 * strings (and their concatenation trees) that building it as strings costs.
 */

/** Buffers kept for reuse. */
const MAX_SPARE = 4;
/** Most UTF-8 bytes one UTF-16 code unit can take. */
const MAX_BYTES_PER_UNIT = 3;

export class ByteWriter {
  private buf: Buffer;
  private len = 0;
  private readonly spare: Buffer[] = [];
  /** A DataView of buf, made when first asked for (null: buf changed since). */
  private dataView: DataView | null = null;

  /** capacity: initial size in bytes; the buffer grows as needed. */
  constructor(private readonly capacity = 1 << 20) {
    this.buf = Buffer.allocUnsafe(capacity);
  }

  /** Bytes written since the last take(). */
  get length(): number {
    return this.len;
  }

  /**
   * Hands out what was written (the caller owns it until it gives it back
   * with recycle()) and goes on in another buffer.
   */
  take(): Buffer {
    const out = this.buf.subarray(0, this.len);
    // Reused buffers: a fresh megabyte per write would make V8 collect garbage for the external memory.
    this.buf = this.spare.pop() ?? Buffer.allocUnsafe(this.capacity);
    this.dataView = null;
    this.len = 0;
    return out;
  }

  /** Takes back a buffer take() handed out, once the caller is done with it. */
  recycle(taken: Buffer): void {
    if (taken.buffer.byteLength === this.capacity && this.spare.length < MAX_SPARE) {
      this.spare.push(Buffer.from(taken.buffer, taken.byteOffset, this.capacity));
    }
  }

  /**
   * Room for `bytes` more: the buffer to write into from `length` on (then
   * call advance()). For writers of their own, like session-json.ts.
   */
  room(bytes: number): Buffer {
    this.reserve(bytes);
    return this.buf;
  }

  /** A DataView of room()'s buffer (multi-byte stores at any offset). */
  view(): DataView {
    this.dataView ??= new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.length);
    return this.dataView;
  }

  /** Sets the end of what is written to `end` (after writing into room()'s buffer). */
  advance(end: number): void {
    this.len = end;
  }

  /** Text known to be ASCII. */
  ascii(s: string): void {
    this.reserve(s.length);
    const buf = this.buf;
    let at = this.len;
    for (let i = 0; i < s.length; i++) buf[at++] = s.charCodeAt(i);
    this.len = at;
  }

  /** Any text, as UTF-8. */
  utf8(s: string): void {
    this.reserve(s.length * MAX_BYTES_PER_UNIT);
    this.len += this.buf.write(s, this.len, 'utf8');
  }

  private reserve(bytes: number): void {
    if (this.len + bytes <= this.buf.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.len + bytes));
    this.buf.copy(bigger, 0, 0, this.len);
    this.buf = bigger;
    this.dataView = null;
  }
}
