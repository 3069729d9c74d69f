/**
 * Strings by their UTF-8 bytes: a line's user, event name, channel and
 * timestamp repeat across lines, so looking the bytes up here spares decoding
 * a new string for most of them (and later comparisons see one string object).
 *
 * Open addressing over typed arrays, the bytes of every entry in one arena:
 * no allocation per lookup, none per entry but the string itself. It grows
 * with the number of distinct values (a hundred thousand users must not make
 * it start over all the time), up to a bound past which it starts over, so
 * memory stays bounded whatever the input.
 */
import { decodeUtf8 } from './buffer-text.ts';

/** FNV-1a, 32 bits: the hash callers compute while they scan the bytes. */
export const FNV_OFFSET = 0x811c9dc5 | 0;
export const FNV_PRIME = 16_777_619;

/** Average bytes per entry the arena is sized for. */
const ARENA_BYTES_PER_ENTRY = 32;
/** Longer strings are not kept. */
const MAX_KEPT_BYTES = 256;

export class StringInterner {
  private mask = 0;
  private limit = 0;
  /** Per slot: [hash, arena offset (-1: empty), length, id]. One array, so a probe touches one cache line. */
  private meta = new Int32Array(0);
  /** The strings by id: ids count up from 0 in the order strings were first seen, until the interner starts over. */
  byId: string[] = [];
  /** Counts the times the interner started over (ids are only comparable within one generation). */
  generation = 0;
  /** The id of the string the last get() returned. */
  lastId = -1;
  private strings: string[] = [];
  private arena = new Uint8Array(0);
  private arenaUsed = 0;
  private count = 0;

  /**
   * Starts with 2^initialLog2 slots and doubles while half full, up to
   * 2^maxLog2 slots; past that it starts over (bounded memory).
   */
  constructor(
    initialLog2 = 12,
    private readonly maxLog2 = 21,
  ) {
    this.allocate(1 << initialLog2);
  }

  /** The string of buf[start, end), whose FNV-1a hash (FNV_OFFSET, FNV_PRIME) is `hash`. */
  get(buf: Buffer, start: number, end: number, hash: number): string {
    const len = end - start;
    const meta = this.meta;
    let i = hash & this.mask;
    for (let off = meta[4 * i + 1] as number; off >= 0; off = meta[4 * i + 1] as number) {
      if (meta[4 * i] === hash && meta[4 * i + 2] === len && this.sameBytes(off, buf, start, len)) {
        this.lastId = meta[4 * i + 3] as number;
        return this.strings[i] as string;
      }
      i = (i + 1) & this.mask;
    }
    const s = decodeUtf8(buf, start, end);
    if (len > MAX_KEPT_BYTES) {
      this.lastId = -1; // too long to keep: decoded every time
      return s;
    }
    const id = this.byId.length;
    if (this.count >= this.limit || this.arenaUsed + len > this.arena.length) {
      if (this.makeRoom()) return this.get(buf, start, end, hash); // started over: a new id space
      this.insert(buf, start, end, hash, s, id);
    } else {
      this.store(i, buf, start, end, hash, s, id);
    }
    this.byId.push(s);
    this.lastId = id;
    return s;
  }

  private insert(buf: Buffer, start: number, end: number, hash: number, s: string, id: number): void {
    let i = hash & this.mask;
    while ((this.meta[4 * i + 1] as number) >= 0) i = (i + 1) & this.mask;
    this.store(i, buf, start, end, hash, s, id);
  }

  private store(i: number, buf: Buffer, start: number, end: number, hash: number, s: string, id: number): void {
    const len = end - start;
    this.arena.set(buf.subarray(start, end), this.arenaUsed);
    this.meta[4 * i] = hash;
    this.meta[4 * i + 1] = this.arenaUsed;
    this.meta[4 * i + 2] = len;
    this.meta[4 * i + 3] = id;
    this.strings[i] = s;
    this.arenaUsed += len;
    this.count++;
  }

  private sameBytes(off: number, buf: Buffer, start: number, len: number): boolean {
    const arena = this.arena;
    for (let k = 0; k < len; k++) if (arena[off + k] !== buf[start + k]) return false;
    return true;
  }

  /**
   * Doubles the table (moving the entries, ids kept), or starts over once it
   * is as large as allowed (true: a new generation, ids from 0 again).
   */
  private makeRoom(): boolean {
    const capacity = this.mask + 1;
    if (capacity >= 1 << this.maxLog2) {
      this.allocate(capacity);
      this.byId = [];
      this.generation++;
      return true;
    }
    const { meta, strings, arena } = this;
    this.allocate(capacity * 2);
    for (let j = 0; j < capacity; j++) {
      const off = meta[4 * j + 1] as number;
      if (off < 0) continue;
      const len = meta[4 * j + 2] as number;
      const bytes = Buffer.from(arena.buffer, arena.byteOffset + off, len);
      this.insert(bytes, 0, len, meta[4 * j] as number, strings[j] as string, meta[4 * j + 3] as number);
    }
    return false;
  }

  private allocate(capacity: number): void {
    this.mask = capacity - 1;
    this.limit = capacity >> 1;
    this.meta = new Int32Array(4 * capacity).fill(-1);
    this.strings = new Array<string>(capacity).fill('');
    this.arena = new Uint8Array(this.limit * ARENA_BYTES_PER_ENTRY);
    this.arenaUsed = 0;
    this.count = 0;
  }
}
