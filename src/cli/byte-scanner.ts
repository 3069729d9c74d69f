/**
 * The fast path of line parsing for `sessions sessionize`: reads a flat JSON
 * object straight from the input bytes into FieldValues, without decoding the
 * line or building an object. Ids, names and channels repeat, so their
 * strings are interned by their bytes and most lines allocate no string at
 * all; a timestamp equal to the previous line's reuses its string.
 *
 * Only flat objects whose values are strings without escapes, numbers, true,
 * false or null, with spaces or tabs between tokens, take this path; scan()
 * returns false for anything else and the caller uses JSON.parse, so both
 * paths accept exactly JSON and give the same values.
 */
import { KNOWN_KEYS, type FieldValues } from './event-line.ts';
import { FIELD_ALIASES } from './event-line.ts';

const QUOTE = 34;
const BACKSLASH = 92;
const COMMA = 44;
const COLON = 58;
const SPACE = 32;
const TAB = 9;
const OPEN_BRACE = 123;
const CLOSE_BRACE = 125;
const MINUS = 45;
const FNV_OFFSET = 0x811c9dc5 | 0;
const FNV_PRIME = 16_777_619;

/** How a known key's string value is turned into a JS string. */
const enum Kind {
  /** Repeats across lines (user, name, channel): interned. */
  Interned = 0,
  /** The timestamp: often equal to the previous line's. */
  Time = 1,
  /** Anything else (event ids, value text): decoded. */
  Plain = 2,
}

const KEY_BYTES = KNOWN_KEYS.map((k) => Buffer.from(k, 'utf8'));
const KEY_KIND = KNOWN_KEYS.map((k): Kind => {
  const aliases = FIELD_ALIASES as Readonly<Record<string, readonly string[]>>;
  const is = (field: string): boolean => (aliases[field] as readonly string[]).includes(k);
  if (is('timestamp')) return Kind.Time;
  if (is('userId') || is('name') || is('channelId')) return Kind.Interned;
  return Kind.Plain;
});
/** Slots of the known keys by key length. */
const SLOTS_BY_LENGTH: number[][] = [];
KNOWN_KEYS.forEach((key, slot) => {
  (SLOTS_BY_LENGTH[Buffer.byteLength(key)] ??= []).push(slot);
});

/** Byte classes inside a JSON string: 0 plain, 1 the closing quote, 2 a byte this path leaves to JSON.parse. */
const STRING_BYTE = new Uint8Array(256);
for (let c = 0; c < SPACE; c++) STRING_BYTE[c] = 2;
STRING_BYTE[BACKSLASH] = 2;
STRING_BYTE[QUOTE] = 1;

/** End of the string whose content starts at i (the closing quote), or -1 (escape, control byte, no quote). */
function stringEnd(buf: Uint8Array, i: number, end: number): number {
  while (i < end) {
    const k = STRING_BYTE[buf[i] as number];
    if (k === 0) i++;
    else return k === 1 ? i : -1;
  }
  return -1;
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/**
 * Strings by their UTF-8 bytes, in an open-addressing table. Bounded: when it
 * is half full it starts over, so memory stays flat whatever the number of
 * distinct values.
 */
export class StringInterner {
  private readonly mask: number;
  private readonly limit: number;
  private hashes: Int32Array;
  private bytes: Array<Uint8Array | undefined>;
  private strings: string[];
  private count = 0;

  constructor(capacityLog2 = 17) {
    const capacity = 1 << capacityLog2;
    this.mask = capacity - 1;
    this.limit = capacity >> 1;
    this.hashes = new Int32Array(capacity);
    this.bytes = new Array<Uint8Array | undefined>(capacity).fill(undefined);
    this.strings = new Array<string>(capacity).fill('');
  }

  /** The string of buf[start, end) whose FNV-1a hash is `hash`. */
  get(buf: Uint8Array, start: number, end: number, hash: number): string {
    const len = end - start;
    let i = hash & this.mask;
    for (;;) {
      const b = this.bytes[i];
      if (b === undefined) break;
      if (this.hashes[i] === hash && b.length === len && sameBytes(b, buf, start)) return this.strings[i] as string;
      i = (i + 1) & this.mask;
    }
    const s = Buffer.prototype.utf8Slice.call(buf, start, end) as string;
    if (this.count >= this.limit) {
      this.reset();
      i = hash & this.mask;
    }
    this.hashes[i] = hash;
    this.bytes[i] = buf.slice(start, end);
    this.strings[i] = s;
    this.count++;
    return s;
  }

  private reset(): void {
    this.bytes.fill(undefined);
    this.count = 0;
  }
}

function fnv1a(buf: Uint8Array, start: number, end: number): number {
  let h = FNV_OFFSET;
  for (let i = start; i < end; i++) h = Math.imul(h ^ (buf[i] as number), FNV_PRIME);
  return h;
}

function sameBytes(a: Uint8Array, buf: Uint8Array, start: number): boolean {
  for (let k = 0; k < a.length; k++) if (a[k] !== buf[start + k]) return false;
  return true;
}

/** Reads flat JSON objects from bytes (see the module comment). One per input: it caches across lines. */
export class FlatObjectScanner {
  private readonly interner = new StringInterner();
  private lastTime = '';
  private lastTimeBytes = new Uint8Array(0);

  /**
   * Reads the object in buf[start, end) into vals (every slot written).
   * False when the line must go to JSON.parse; vals is then unspecified.
   */
  scan(buf: Buffer, start: number, end: number, vals: FieldValues): boolean {
    for (let k = 0; k < vals.length; k++) vals[k] = undefined;
    let i = skipSpace(buf, start, end);
    if (buf[i] !== OPEN_BRACE) return false;
    i = skipSpace(buf, i + 1, end);
    if (buf[i] === CLOSE_BRACE) return skipSpace(buf, i + 1, end) === end;
    for (;;) {
      if (i >= end || buf[i] !== QUOTE) return false;
      const keyStart = i + 1;
      i = stringEnd(buf, keyStart, end);
      if (i < 0) return false;
      const slot = keySlot(buf, keyStart, i);
      i = skipSpace(buf, i + 1, end);
      if (buf[i] !== COLON) return false;
      i = skipSpace(buf, i + 1, end);
      const c = buf[i];
      if (c === QUOTE) {
        const vs = i + 1;
        i = stringEnd(buf, vs, end);
        if (i < 0) return false;
        if (slot >= 0) vals[slot] = this.stringValue(buf, vs, i, KEY_KIND[slot] as Kind);
        i++;
      } else if (c === MINUS || (c !== undefined && isDigit(c))) {
        const ne = numberEnd(buf, i, end);
        if (ne < 0) return false;
        if (slot >= 0) vals[slot] = Number(Buffer.prototype.latin1Slice.call(buf, i, ne));
        i = ne;
      } else if (c === 116 && matches(buf, i, end, 'true')) {
        if (slot >= 0) vals[slot] = true;
        i += 4;
      } else if (c === 102 && matches(buf, i, end, 'false')) {
        if (slot >= 0) vals[slot] = false;
        i += 5;
      } else if (c === 110 && matches(buf, i, end, 'null')) {
        if (slot >= 0) vals[slot] = null;
        i += 4;
      } else {
        return false; // nested value or not JSON: JSON.parse decides
      }
      i = skipSpace(buf, i, end);
      const d = buf[i];
      if (d === COMMA) {
        i = skipSpace(buf, i + 1, end);
        continue;
      }
      return i < end && d === CLOSE_BRACE && skipSpace(buf, i + 1, end) === end;
    }
  }

  private stringValue(buf: Buffer, start: number, end: number, kind: Kind): string {
    if (kind === Kind.Interned) return this.interner.get(buf, start, end, fnv1a(buf, start, end));
    if (kind === Kind.Time) {
      const last = this.lastTimeBytes;
      if (last.length === end - start && sameBytes(last, buf, start)) return this.lastTime;
      this.lastTimeBytes = buf.slice(start, end);
      this.lastTime = Buffer.prototype.utf8Slice.call(buf, start, end) as string;
      return this.lastTime;
    }
    return Buffer.prototype.utf8Slice.call(buf, start, end) as string;
  }
}

function skipSpace(buf: Uint8Array, i: number, end: number): number {
  while (i < end) {
    const c = buf[i];
    if (c !== SPACE && c !== TAB) break;
    i++;
  }
  return i;
}

function matches(buf: Uint8Array, i: number, end: number, word: string): boolean {
  if (i + word.length > end) return false;
  for (let k = 0; k < word.length; k++) if (buf[i + k] !== word.charCodeAt(k)) return false;
  return true;
}

function keySlot(buf: Uint8Array, start: number, end: number): number {
  const slots = SLOTS_BY_LENGTH[end - start];
  if (slots === undefined) return -1;
  for (let k = 0; k < slots.length; k++) {
    const slot = slots[k] as number;
    if (sameBytes(KEY_BYTES[slot] as Uint8Array, buf, start)) return slot;
  }
  return -1;
}

/** End of the JSON number at i, or -1 when the grammar is not met. */
function numberEnd(buf: Uint8Array, i: number, end: number): number {
  const at = (k: number): number => (k < end ? (buf[k] as number) : -1);
  if (at(i) === MINUS) i++;
  if (at(i) === 48) i++;
  else if (isDigit(at(i))) while (isDigit(at(i))) i++;
  else return -1;
  if (at(i) === 46) {
    i++;
    if (!isDigit(at(i))) return -1;
    while (isDigit(at(i))) i++;
  }
  const e = at(i);
  if (e === 101 || e === 69) {
    i++;
    if (at(i) === 43 || at(i) === MINUS) i++;
    if (!isDigit(at(i))) return -1;
    while (isDigit(at(i))) i++;
  }
  return i;
}
