/**
 * The fast path of line parsing: reads a flat JSON object straight from the
 * input bytes into FieldValues, without decoding the line or building an
 * object. A line shaped like the previous one (line-shape.ts) is read
 * literal by literal, others token by token; each byte is visited once.
 * Users, names and channels repeat, so their strings come from an interner
 * (hashed while their end is searched); timestamps are read as numbers from
 * the bytes; most lines allocate no string at all. Lines of a shape with a
 * plan (shape-plan.ts) go further still: scanFields() reads them straight
 * into the mapped fields.
 *
 * Only flat objects whose values are strings without escapes, numbers, true,
 * false or null, with spaces or tabs between tokens, take this path; scan()
 * returns false for anything else and the caller uses JSON.parse, so both
 * paths accept exactly JSON and give the same values.
 */
import { decodeUtf8 } from './buffer-text.ts';
import type { LineFields } from './event-line.ts';
import { MAX_FIELD_LENGTH } from './event-line.ts';
import { FIELD_ALIASES, KNOWN_KEYS, type FieldValues } from './field-values.ts';
import {
  BACKSLASH,
  CLOSE_BRACE,
  COLON,
  COMMA,
  FIRST_PRINTABLE,
  isDigit,
  matches,
  MINUS,
  numberEnd,
  OPEN_BRACE,
  QUOTE,
  skipSpace,
  stringEnd,
  surelyNotBlank,
} from './json-bytes.ts';
import { LineShape, ShapeRecorder, ValueKind } from './line-shape.ts';
import { planOf, Role } from './shape-plan.ts';
import { FNV_OFFSET, FNV_PRIME, StringInterner } from './string-interner.ts';
import { parseTimestamp } from './timestamp.ts';
import { parseTimestampBytes } from './timestamp-bytes.ts';

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

/** Reads flat JSON objects from bytes (see the module comment). One per input: it caches across lines. */
export class FlatObjectScanner {
  private readonly values = new StringInterner();
  /** Set by hashedStringEnd: the hash of the string just scanned. */
  private hash = 0;

  /** The shape of the last line scanned token by token (line-shape.ts), or null. */
  private shape: LineShape | null = null;
  /** Its plan (shape-plan.ts): the role of each value, or null when it has none. */
  private roles: Uint8Array | null = null;
  private readonly recorder = new ShapeRecorder();
  /** Length of the last timestamp text scanFields() read. */
  private timeLength = 0;
  /** A DataView of the last buffer scanned (comparisons and reads of several bytes at once). */
  private viewBuf: Buffer | null = null;
  private view: DataView = new DataView(new ArrayBuffer(0));

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
      if (ok) {
        this.shape = LineShape.of(buf, start, end, this.recorder);
        this.roles = this.shape === null ? null : planOf(this.shape);
      }
    }
    // Ids from before and after the interner started over must not mix.
    if (this.values.generation !== generation) vals.dropRefs();
    return ok;
  }

  /**
   * The shortcut for the lines of a planned shape (shape-plan.ts): reads the
   * line in buf[start, end) straight into `out`, as scan() and the field
   * mapping would. False when the line is not of that shape, or the plan
   * cannot settle it: then scan() and mapFields() decide (`out` is then unspecified).
   */
  scanFields(buf: Buffer, start: number, end: number, out: LineFields): boolean {
    const shape = this.shape;
    const roles = this.roles;
    if (shape === null || roles === null) return false;
    const view = this.viewOf(buf);
    const interner = this.values;
    const generation = interner.generation;
    const n = roles.length;
    let userRef = -1;
    let nameRef = -1;
    let channelRef = -1;
    let ts = Number.NaN;
    let value: number | null = null;
    let eventId: string | null = null;
    let i = start;
    for (let k = 0; ; k++) {
      i = shape.matchLiteral(k, buf, view, i, end);
      if (i < 0) return false;
      if (k === n) {
        if (i !== end) return false;
        break;
      }
      const role = roles[k] as Role;
      if (shape.kinds[k] === ValueKind.Bare) {
        // Only an unknown key's value, an epoch timestamp or a value (shape-plan.ts).
        const c = buf[i] as number;
        if (role === Role.Skip) {
          i = this.bareValue(buf, i, end, -1, null);
          if (i < 0) return false;
          continue;
        }
        if (c !== MINUS && !isDigit(c)) return false; // true, false, null: the general way
        const ne = numberEnd(buf, i, end);
        if (ne < 0) return false;
        const num = Number(buf.toString('latin1', i, ne));
        if (role === Role.Timestamp) {
          const ms = parseTimestamp(num);
          if (ms === null) return false;
          ts = ms;
        } else {
          if (!Number.isFinite(num)) return false;
          value = num;
        }
        i = ne;
        continue;
      }
      let ve: number;
      switch (role) {
        case Role.UserId:
        case Role.Name:
        case Role.ChannelId: {
          ve = this.hashedStringEnd(buf, i, end);
          // Blank, or too long to be kept (it may have too many characters): the general way.
          if (ve <= i || !surelyNotBlank(buf[i] as number)) return false;
          const id = interner.idOf(buf, view, i, ve, this.hash);
          if (id < 0) return false;
          if (role === Role.UserId) userRef = id;
          else if (role === Role.Name) nameRef = id;
          else channelRef = id;
          break;
        }
        case Role.Timestamp:
          // Most files write every time with the same length: try the last one's before looking for the quote
          // (parseTimestampBytes accepts no quote, backslash or control byte).
          ve = i + this.timeLength;
          ts = ve < end && buf[ve] === QUOTE ? parseTimestampBytes(buf, i, ve) : Number.NaN;
          if (ts !== ts) {
            ve = stringEnd(buf, i, end);
            if (ve < 0) return false;
            ts = parseTimestampBytes(buf, i, ve);
            if (ts !== ts) return false; // NaN: an unusual form, or no time at all
            this.timeLength = ve - i;
          }
          break;
        case Role.EventId:
          ve = stringEnd(buf, i, end);
          if (ve <= i || ve - i > MAX_FIELD_LENGTH || !surelyNotBlank(buf[i] as number)) return false;
          eventId = decodeUtf8(buf, i, ve);
          break;
        case Role.Value: {
          ve = stringEnd(buf, i, end);
          if (ve < 0) return false;
          const text = decodeUtf8(buf, i, ve);
          // As the field mapping reads a value given as text.
          const num = text.trim() === '' ? Number.NaN : Number(text);
          if (!Number.isFinite(num)) return false;
          value = num;
          break;
        }
        default:
          ve = stringEnd(buf, i, end);
          if (ve < 0) return false;
      }
      i = ve;
    }
    // The interner started over while reading the line: its ids are of two generations.
    if (interner.generation !== generation) return false;
    const byId = interner.byId;
    out.userId = byId[userRef] as string;
    out.name = byId[nameRef] as string;
    out.ts = ts;
    out.channelId = channelRef < 0 ? null : (byId[channelRef] as string);
    out.value = value;
    out.eventId = eventId;
    out.userRef = userRef;
    out.nameRef = nameRef;
    out.channelRef = channelRef;
    return true;
  }

  /** The interner of users, names and channels: the ids in FieldValues.refs are its. */
  get strings(): StringInterner {
    return this.values;
  }

  private viewOf(buf: Buffer): DataView {
    if (buf !== this.viewBuf) {
      this.viewBuf = buf;
      this.view = new DataView(buf.buffer, buf.byteOffset, buf.length);
    }
    return this.view;
  }

  /** Reads a line that has `shape` (literal by literal, value by value); false when it does not. */
  private scanShaped(shape: LineShape, buf: Buffer, start: number, end: number, vals: FieldValues): boolean {
    const view = this.viewOf(buf);
    const slots = shape.slots;
    const kinds = shape.kinds;
    const n = slots.length;
    let i = start;
    for (let k = 0; ; k++) {
      // The literal before value k (or the last one).
      i = shape.matchLiteral(k, buf, view, i, end);
      if (i < 0) return false;
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
  private bareValue(buf: Buffer, i: number, end: number, slot: number, vals: FieldValues | null): number {
    const c = buf[i] as number;
    if (c === MINUS || isDigit(c)) {
      const ne = numberEnd(buf, i, end);
      if (ne >= 0 && slot >= 0) vals?.set(slot, Number(buf.toString('latin1', i, ne)));
      return ne;
    }
    if (c === 116 && matches(buf, i, end, 'true')) {
      if (slot >= 0) vals?.set(slot, true);
      return i + 4;
    }
    if (c === 102 && matches(buf, i, end, 'false')) {
      if (slot >= 0) vals?.set(slot, false);
      return i + 5;
    }
    if (c === 110 && matches(buf, i, end, 'null')) {
      if (slot >= 0) vals?.set(slot, null);
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
