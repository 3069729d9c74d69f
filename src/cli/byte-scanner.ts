/**
 * The fast path of line parsing: reads a flat JSON object straight from the
 * input bytes into FieldValues, without decoding the line or building an
 * object. A line shaped like the previous one (line-shape.ts) is read
 * literal by literal, others token by token; each byte is visited once.
 * Users, names and channels repeat, so their strings come from an interner
 * (hashed while their end is searched); timestamps are read as numbers from
 * the bytes; most lines allocate no string at all.
 *
 * Only flat objects whose values are strings without escapes, numbers, true,
 * false or null, with spaces or tabs between tokens, take this path; scan()
 * returns false for anything else and the caller uses JSON.parse, so both
 * paths accept exactly JSON and give the same values.
 */
import { decodeUtf8 } from './buffer-text.ts';
import { FIELD_ALIASES, KNOWN_KEYS, type FieldValues } from './field-values.ts';
import { LineShape, ShapeRecorder, ValueKind } from './line-shape.ts';
import { FNV_OFFSET, FNV_PRIME, StringInterner } from './string-interner.ts';
import { parseTimestampBytes } from './timestamp-bytes.ts';

const QUOTE = 34;
const BACKSLASH = 92;
const COMMA = 44;
const COLON = 58;
const SPACE = 32;
const TAB = 9;
const OPEN_BRACE = 123;
const CLOSE_BRACE = 125;
const MINUS = 45;
/** Bytes below this are control characters, which a JSON string may not hold raw. */
const FIRST_PRINTABLE = 0x20;

/** How a known key's string value becomes a JS string. */
const enum Kind {
  /** Repeats across lines (user, name, channel): interned. */
  Interned = 0,
  /** Anything else (event ids, value text, timestamps in an unusual form): decoded each time. */
  Plain = 1,
}

const KEY_BYTES = KNOWN_KEYS.map((k) => Buffer.from(k, 'utf8'));
const KEY_KIND = KNOWN_KEYS.map((k): Kind => {
  const aliases = FIELD_ALIASES as Readonly<Record<string, readonly string[]>>;
  const is = (field: string): boolean => (aliases[field] as readonly string[]).includes(k);
  return is('userId') || is('name') || is('channelId') ? Kind.Interned : Kind.Plain;
});
const KEY_IS_TIME = KNOWN_KEYS.map((k) => (FIELD_ALIASES.timestamp as readonly string[]).includes(k));

/**
 * Known keys by length and first byte (a key's bytes are then compared):
 * cheaper than hashing every key byte, and few keys share both.
 */
const KEYS_BY_SHAPE = new Map<number, number[]>();
KEY_BYTES.forEach((bytes, slot) => {
  const shape = shapeOf(bytes.length, bytes[0] as number);
  KEYS_BY_SHAPE.set(shape, [...(KEYS_BY_SHAPE.get(shape) ?? []), slot]);
});
const NO_KEYS: number[] = [];

function shapeOf(length: number, firstByte: number): number {
  return length * 256 + firstByte;
}

/** Slot of the known key buf[start, end), or -1. */
function keySlot(buf: Buffer, start: number, end: number): number {
  const len = end - start;
  if (len === 0) return -1;
  const slots = KEYS_BY_SHAPE.get(shapeOf(len, buf[start] as number)) ?? NO_KEYS;
  for (let n = 0; n < slots.length; n++) {
    const slot = slots[n] as number;
    const key = KEY_BYTES[slot] as Buffer;
    let k = 1;
    while (k < len && key[k] === buf[start + k]) k++;
    if (k === len) return slot;
  }
  return -1;
}

/** End of the string whose content starts at i (its closing quote), or -1 for an escape, a raw control byte or no quote. */
function stringEnd(buf: Buffer, i: number, end: number): number {
  for (; i < end; i++) {
    const c = buf[i] as number;
    if (c === QUOTE) return i;
    if (c === BACKSLASH || c < FIRST_PRINTABLE) return -1;
  }
  return -1;
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

function skipSpace(buf: Buffer, i: number, end: number): number {
  while (i < end) {
    const c = buf[i];
    if (c !== SPACE && c !== TAB) break;
    i++;
  }
  return i;
}

function matches(buf: Buffer, i: number, end: number, word: string): boolean {
  if (i + word.length > end) return false;
  for (let k = 0; k < word.length; k++) if (buf[i + k] !== word.charCodeAt(k)) return false;
  return true;
}

/** End of the JSON number at i, or -1 when the grammar is not met. */
function numberEnd(buf: Buffer, i: number, end: number): number {
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

/** Reads flat JSON objects from bytes (see the module comment). One per input: it caches across lines. */
export class FlatObjectScanner {
  private readonly values = new StringInterner();
  /** Set by hashedStringEnd: the hash of the string just scanned. */
  private hash = 0;

  /** The shape of the last line scanned token by token (line-shape.ts), or null. */
  private shape: LineShape | null = null;
  private readonly recorder = new ShapeRecorder();

  /**
   * Reads the object in buf[start, end) into vals (every slot written).
   * False when the line must go to JSON.parse; vals is then unspecified.
   */
  scan(buf: Buffer, start: number, end: number, vals: FieldValues): boolean {
    const generation = this.values.generation;
    vals.clear();
    let ok = this.shape !== null && this.scanShaped(this.shape, buf, start, end, vals);
    if (!ok) {
      vals.clear();
      this.recorder.reset();
      ok = this.scanTokens(buf, start, end, vals);
      if (ok) this.shape = LineShape.of(buf, start, end, this.recorder);
    }
    // Ids from before and after the interner started over must not mix.
    if (this.values.generation !== generation) vals.dropRefs();
    return ok;
  }

  /** The interner of users, names and channels: the ids in FieldValues.refs are its. */
  get strings(): StringInterner {
    return this.values;
  }

  /** Reads a line that has `shape` (literal by literal, value by value); false when it does not. */
  private scanShaped(shape: LineShape, buf: Buffer, start: number, end: number, vals: FieldValues): boolean {
    const bytes = shape.bytes;
    const literalEnds = shape.literalEnds;
    const slots = shape.slots;
    const kinds = shape.kinds;
    const n = slots.length;
    let i = start;
    let from = 0;
    for (let k = 0; ; k++) {
      // The literal before value k (or the last one): byte for byte.
      const to = literalEnds[k] as number;
      if (i + (to - from) > end) return false;
      for (let j = from; j < to; j++, i++) if (bytes[j] !== buf[i]) return false;
      from = to;
      if (k === n) return i === end;
      const slot = slots[k] as number;
      if (kinds[k] === ValueKind.Text) {
        const ve = slot >= 0 && KEY_KIND[slot] === Kind.Interned ? this.hashedStringEnd(buf, i, end) : stringEnd(buf, i, end);
        if (ve < 0) return false;
        if (slot >= 0) this.stringValue(vals, slot, buf, i, ve);
        i = ve;
      } else {
        i = this.bareValue(buf, i, end, slot, vals);
        if (i < 0) return false;
      }
    }
  }

  /** Reads the object token by token, recording its values' positions for its shape. */
  private scanTokens(buf: Buffer, start: number, end: number, vals: FieldValues): boolean {
    const recorder = this.recorder;
    let i = skipSpace(buf, start, end);
    if (i >= end || buf[i] !== OPEN_BRACE) return false;
    i = skipSpace(buf, i + 1, end);
    if (i < end && buf[i] === CLOSE_BRACE) return skipSpace(buf, i + 1, end) === end;
    for (;;) {
      if (i >= end || buf[i] !== QUOTE) return false;
      const keyStart = i + 1;
      i = stringEnd(buf, keyStart, end);
      if (i < 0) return false;
      const slot = keySlot(buf, keyStart, i);
      i = skipSpace(buf, i + 1, end);
      if (i >= end || buf[i] !== COLON) return false;
      i = skipSpace(buf, i + 1, end);
      if (i >= end) return false;
      if (buf[i] === QUOTE) {
        const vs = i + 1;
        // Only the values that are interned need their hash.
        i = slot >= 0 && KEY_KIND[slot] === Kind.Interned ? this.hashedStringEnd(buf, vs, end) : stringEnd(buf, vs, end);
        if (i < 0) return false;
        if (slot >= 0) this.stringValue(vals, slot, buf, vs, i);
        recorder.add(vs, i, slot, ValueKind.Text);
        i++;
      } else {
        const vs = i;
        i = this.bareValue(buf, i, end, slot, vals);
        if (i < 0) return false; // nested value or not JSON: JSON.parse decides
        recorder.add(vs, i, slot, ValueKind.Bare);
      }
      i = skipSpace(buf, i, end);
      if (i >= end) return false;
      const d = buf[i];
      if (d === COMMA) {
        i = skipSpace(buf, i + 1, end);
        continue;
      }
      return d === CLOSE_BRACE && skipSpace(buf, i + 1, end) === end;
    }
  }

  /** Reads a number, true, false or null at i into `slot` (-1: skip); its end, or -1 for anything else. */
  private bareValue(buf: Buffer, i: number, end: number, slot: number, vals: FieldValues): number {
    const c = buf[i] as number;
    if (c === MINUS || isDigit(c)) {
      const ne = numberEnd(buf, i, end);
      if (ne >= 0 && slot >= 0) vals.set(slot, Number(buf.toString('latin1', i, ne)));
      return ne;
    }
    if (c === 116 && matches(buf, i, end, 'true')) {
      if (slot >= 0) vals.set(slot, true);
      return i + 4;
    }
    if (c === 102 && matches(buf, i, end, 'false')) {
      if (slot >= 0) vals.set(slot, false);
      return i + 5;
    }
    if (c === 110 && matches(buf, i, end, 'null')) {
      if (slot >= 0) vals.set(slot, null);
      return i + 4;
    }
    return -1;
  }

  /** Sets a known key's string value buf[start, end) (interned ones: their hash in this.hash). */
  private stringValue(vals: FieldValues, slot: number, buf: Buffer, start: number, end: number): void {
    if (KEY_IS_TIME[slot] === true) {
      const ms = parseTimestampBytes(buf, start, end);
      if (ms === ms) vals.setTime(slot, ms); // not NaN
      else vals.set(slot, decodeUtf8(buf, start, end)); // an unusual form: parseTimestamp decides
    } else if (KEY_KIND[slot] === Kind.Interned) {
      const text = this.values.get(buf, start, end, this.hash);
      vals.setInterned(slot, text, this.values.lastId);
    } else {
      vals.set(slot, decodeUtf8(buf, start, end));
    }
  }

  /** stringEnd(), hashing the content on the way (into this.hash). */
  private hashedStringEnd(buf: Buffer, i: number, end: number): number {
    let h = FNV_OFFSET;
    for (; i < end; i++) {
      const c = buf[i] as number;
      if (c === QUOTE) {
        this.hash = h;
        return i;
      }
      if (c === BACKSLASH || c < FIRST_PRINTABLE) return -1;
      h = Math.imul(h ^ c, FNV_PRIME);
    }
    return -1;
  }
}
