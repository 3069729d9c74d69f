/**
 * Strings by their UTF-8 bytes: a line's user, event name, channel and
 * timestamp repeat across lines, so looking the bytes up here spares decoding
 * a new string for most of them (and later comparisons see one string object).
 *
 * Open addressing over typed arrays, the bytes of every entry in one arena:
 * no allocation per lookup, none per entry but the string itself. The bytes
 * looked up are a JSON string's: no 0 byte among them. It grows
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

/** Bytes kept in a slot itself: strings this long or shorter are compared without reaching the arena. */
const SLOT_BYTES = 8;

/** The low `n` bytes (0 to 4) of a 32-bit word. */
function low(w: number, n: number): number {
  return n >= 4 ? w : n <= 0 ? 0 : w & (0xffffffff >>> (32 - 8 * n));
}

export class StringInterner {
  private mask = 0;
  private limit = 0;
  /**
   * Per slot: [hash, id (-1: empty), bytes 0-3, bytes 4-7] (little endian,
   * zeros past the end). The strings hold no 0 byte (JSON strings hold no
   * raw control character), so for strings of up to SLOT_BYTES the slot
   * alone says whether it holds them: most lookups touch one cache line and
   * compare no byte one by one.
   */
  private meta = new Int32Array(0);
  /** Per id: where its bytes are in the arena, and how many. */
  private offsets = new Int32Array(0);
  private lengths = new Int32Array(0);
  /** The strings by id: ids count up from 0 in the order strings were first seen, until the interner starts over. */
  byId: string[] = [];
  /** Counts the times the interner started over (ids are only comparable within one generation). */
  generation = 0;
  /** The id of the string the last get() returned. */
  lastId = -1;
  private arena = new Uint8Array(0);
  private arenaUsed = 0;

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
    const id = this.idOf(buf, null, start, end, hash);
    this.lastId = id;
    // Too long to keep: decoded every time.
    return id < 0 ? decodeUtf8(buf, start, end) : (this.byId[id] as string);
  }

  /**
   * The id of the string of buf[start, end) (its text is byId[id]), the
   * string added when new; -1 when it is too long to keep. `hash` as for
   * get(); `view`: a DataView of buf's bytes, or null.
   */
  idOf(buf: Buffer, view: DataView | null, start: number, end: number, hash: number): number {
    const len = end - start;
    if (len > MAX_KEPT_BYTES) return -1;
    let w0 = 0;
    let w1 = 0;
    if (view !== null && start + SLOT_BYTES <= view.byteLength) {
      w0 = low(view.getInt32(start, true), len);
      w1 = low(view.getInt32(start + 4, true), len - 4);
    } else {
      for (let k = 0; k < len && k < SLOT_BYTES; k++) {
        const b = buf[start + k] as number;
        if (k < 4) w0 |= b << (8 * k);
        else w1 |= b << (8 * (k - 4));
      }
    }
    const meta = this.meta;
    const mask = this.mask;
    let i = hash & mask;
    for (let id = meta[4 * i + 1] as number; id >= 0; id = meta[4 * i + 1] as number) {
      if (meta[4 * i] === hash && meta[4 * i + 2] === w0 && meta[4 * i + 3] === w1) {
        if (len <= SLOT_BYTES || (this.lengths[id] === len && this.sameTail(id, buf, start, len))) return id;
      }
      i = (i + 1) & mask;
    }
    const id = this.byId.length;
    if (id >= this.limit || this.arenaUsed + len > this.arena.length) {
      if (this.makeRoom()) return this.idOf(buf, view, start, end, hash); // started over: a new id space
      i = this.freeSlot(hash);
    }
    this.arena.set(buf.subarray(start, end), this.arenaUsed);
    this.offsets[id] = this.arenaUsed;
    this.lengths[id] = len;
    this.arenaUsed += len;
    this.setSlot(i, hash, id, w0, w1);
    this.byId.push(decodeUtf8(buf, start, end));
    return id;
  }

  private freeSlot(hash: number): number {
    let i = hash & this.mask;
    while ((this.meta[4 * i + 1] as number) >= 0) i = (i + 1) & this.mask;
    return i;
  }

  private setSlot(i: number, hash: number, id: number, w0: number, w1: number): void {
    this.meta[4 * i] = hash;
    this.meta[4 * i + 1] = id;
    this.meta[4 * i + 2] = w0;
    this.meta[4 * i + 3] = w1;
  }

  /** The bytes of `id` past the first SLOT_BYTES equal buf's. */
  private sameTail(id: number, buf: Buffer, start: number, len: number): boolean {
    const arena = this.arena;
    const off = this.offsets[id] as number;
    for (let k = SLOT_BYTES; k < len; k++) if (arena[off + k] !== buf[start + k]) return false;
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
    const { meta, offsets, lengths, arena, arenaUsed } = this;
    this.allocate(capacity * 2);
    this.offsets.set(offsets);
    this.lengths.set(lengths);
    this.arena.set(arena.subarray(0, arenaUsed));
    this.arenaUsed = arenaUsed;
    for (let j = 0; j < capacity; j++) {
      const id = meta[4 * j + 1] as number;
      if (id < 0) continue;
      const hash = meta[4 * j] as number;
      this.setSlot(this.freeSlot(hash), hash, id, meta[4 * j + 2] as number, meta[4 * j + 3] as number);
    }
    return false;
  }

  private allocate(capacity: number): void {
    this.mask = capacity - 1;
    this.limit = capacity >> 1;
    this.meta = new Int32Array(4 * capacity).fill(-1);
    this.offsets = new Int32Array(this.limit);
    this.lengths = new Int32Array(this.limit);
    this.arena = new Uint8Array(this.limit * ARENA_BYTES_PER_ENTRY);
    this.arenaUsed = 0;
  }
}
