/**
 * The shape of a JSON line: its bytes around the values. Lines of one file
 * nearly always share it (the same keys, in the same order, with the same
 * spacing), so the byte scanner checks a line against the last shape it saw
 * (one byte comparison each, no key lookups) and only scans token by token
 * when that fails.
 */

/** Kinds of value in a shape. */
export const enum ValueKind {
  /** A string: its quotes belong to the literals around it. */
  Text = 0,
  /** A number, true, false or null. */
  Bare = 1,
}

/** The most values a shape keeps; a line with more is scanned token by token. */
export const MAX_SHAPE_VALUES = 32;

/** Collects a line's value positions while the scanner reads it token by token. */
export class ShapeRecorder {
  readonly starts = new Int32Array(MAX_SHAPE_VALUES);
  readonly ends = new Int32Array(MAX_SHAPE_VALUES);
  readonly slots = new Int32Array(MAX_SHAPE_VALUES);
  readonly kinds = new Uint8Array(MAX_SHAPE_VALUES);
  count = 0;

  reset(): void {
    this.count = 0;
  }

  /** A value at [start, end) (a string's content, without quotes) of key `slot` (-1: not a known key). */
  add(start: number, end: number, slot: number, kind: ValueKind): void {
    if (this.count < MAX_SHAPE_VALUES) {
      this.starts[this.count] = start;
      this.ends[this.count] = end;
      this.slots[this.count] = slot;
      this.kinds[this.count] = kind;
    }
    this.count++;
  }
}

/** A line's literals (the bytes between values) and its values' keys and kinds. */
export class LineShape {
  private constructor(
    /** Every literal's bytes, one after the other. */
    readonly bytes: Uint8Array,
    /** Literal k is bytes[k === 0 ? 0 : literalEnds[k - 1], literalEnds[k]); one more literal than values. */
    readonly literalEnds: Int32Array,
    readonly slots: Int32Array,
    readonly kinds: Uint8Array,
    /**
     * The literals as little-endian 64-bit words read as doubles, for
     * comparing eight bytes at a time: literal k's whole words are
     * words[wordEnds[k - 1] (0 for k = 0), wordEnds[k]), the bytes after them
     * (fewer than eight) its tail.
     */
    readonly words: Float64Array,
    readonly wordEnds: Int32Array,
  ) {}

  /**
   * The shape of the line buf[start, end) whose values the recorder holds;
   * null when it has too many, or literal bytes that cannot be compared as
   * doubles (a byte 0x7f or 0xff where it makes a NaN: keys hardly hold them).
   */
  static of(buf: Buffer, start: number, end: number, r: ShapeRecorder): LineShape | null {
    const n = r.count;
    if (n > MAX_SHAPE_VALUES) return null;
    const literalEnds = new Int32Array(n + 1);
    const bytes = new Uint8Array(end - start);
    let used = 0;
    let from = start;
    for (let k = 0; k <= n; k++) {
      const to = k < n ? (r.starts[k] as number) : end;
      bytes.set(buf.subarray(from, to), used);
      used += to - from;
      literalEnds[k] = used;
      if (k < n) from = r.ends[k] as number;
    }
    const view = new DataView(bytes.buffer, bytes.byteOffset, used);
    const words = new Float64Array(used >> 3);
    const wordEnds = new Int32Array(n + 1);
    let w = 0;
    for (let k = 0, at = 0; k <= n; k++) {
      const to = literalEnds[k] as number;
      for (; at + 8 <= to; at += 8) {
        const word = view.getFloat64(at, true);
        // Compared as doubles, equal values must be equal bytes: no NaN (and no ±0, which takes NUL bytes).
        if (!(word === word) || word === 0) return null;
        words[w++] = word;
      }
      wordEnds[k] = w;
      at = to;
    }
    return new LineShape(bytes.slice(0, used), literalEnds, r.slots.slice(0, n), r.kinds.slice(0, n), words.slice(0, w), wordEnds);
  }

  /**
   * Compares literal k with the bytes at i (`view` over the same memory as
   * `buf`): the position after it, or -1 when they differ or the line ends first.
   */
  matchLiteral(k: number, buf: Buffer, view: DataView, i: number, end: number): number {
    const bytes = this.bytes;
    const to = this.literalEnds[k] as number;
    let from = k === 0 ? 0 : (this.literalEnds[k - 1] as number);
    if (i + (to - from) > end) return -1;
    const words = this.words;
    const wordsTo = this.wordEnds[k] as number;
    for (let w = k === 0 ? 0 : (this.wordEnds[k - 1] as number); w < wordsTo; w++, i += 8, from += 8) {
      if (view.getFloat64(i, true) !== words[w]) return -1;
    }
    for (; from < to; from++, i++) if (bytes[from] !== buf[i]) return -1;
    return i;
  }
}
