/**
 * How one JSON line becomes an event: the field mapping shared by
 * `sessions ingest` and `sessions sessionize` (docs/cli.md, "Field mapping").
 *
 * A line's fields are looked up by alias into a fixed array of raw values
 * (`FieldValues`, filled by json-line.ts from the fast scanner or from
 * JSON.parse), then checked and converted here. Pure: no I/O, no clock.
 */
import type { SessionEvent } from '../sessionizer/index.ts';
import { parseTimestamp } from './timestamp.ts';
import type { EventIds } from './event-id.ts';

/** Codes of lines refused before they reach the core or the service (the service's codes where they overlap). */
export enum LineCode {
  InvalidJson = 'INVALID_JSON',
  MissingField = 'MISSING_FIELD',
  InvalidField = 'INVALID_FIELD',
  InvalidTimestamp = 'INVALID_TIMESTAMP',
  ValueNotFinite = 'VALUE_NOT_FINITE',
  FieldTooLong = 'FIELD_TOO_LONG',
  /** sessionize: older than the watermark (largest timestamp - --lateness). */
  LateEvent = 'LATE_EVENT',
}

/** A refused line: an expected outcome, returned as a value. */
export class LineRejection {
  constructor(
    readonly code: LineCode,
    readonly message: string,
  ) {}
}

/** Longest id or name the service accepts (src/ingest/validate.ts MAX_FIELD_LENGTH), in characters. */
export const MAX_FIELD_LENGTH = 256;

/** Accepted keys per field, in precedence order: the first one present and not null wins. */
export const FIELD_ALIASES = {
  name: ['name', 'event_name', 'event_type', 'event'],
  userId: ['userId', 'user_id'],
  channelId: ['channelId', 'channel_id'],
  timestamp: ['timestamp', 'ts', 'time', 'event_time'],
  value: ['value', 'purchase_value', 'revenue', 'amount'],
  eventId: ['eventId', 'event_id', 'id'],
} as const;

type Field = keyof typeof FIELD_ALIASES;
const FIELDS = Object.keys(FIELD_ALIASES) as Field[];

/** Every alias, flattened; a key's position in this list is its slot in FieldValues. */
export const KNOWN_KEYS: readonly string[] = FIELDS.flatMap((f) => FIELD_ALIASES[f]);

/** [first slot, end slot) of each field in KNOWN_KEYS. */
const SLOTS = ((): Record<Field, readonly [number, number]> => {
  const out = {} as Record<Field, readonly [number, number]>;
  let at = 0;
  for (const f of FIELDS) {
    out[f] = [at, at + FIELD_ALIASES[f].length];
    at += FIELD_ALIASES[f].length;
  }
  return out;
})();

/** Raw values of the known keys of one line, by slot (undefined: absent). */
export type FieldValues = unknown[];

export function emptyFieldValues(): FieldValues {
  return new Array<unknown>(KNOWN_KEYS.length).fill(undefined);
}

/** Copies the known keys of a parsed JSON object into `vals`. */
export function fieldValuesOf(obj: Readonly<Record<string, unknown>>, vals: FieldValues): FieldValues {
  for (let i = 0; i < KNOWN_KEYS.length; i++) {
    const key = KNOWN_KEYS[i] as string;
    vals[i] = Object.hasOwn(obj, key) ? obj[key] : undefined;
  }
  return vals;
}

/** Slot of the alias that supplies `field`, or -1. */
function slotOf(vals: FieldValues, field: Field): number {
  const [from, to] = SLOTS[field];
  for (let i = from; i < to; i++) if (vals[i] !== undefined && vals[i] !== null) return i;
  return -1;
}

/** An id-like field: strings as they are, finite numbers as their decimal text. */
function idText(vals: FieldValues, field: Field, required: boolean): string | null | LineRejection {
  const slot = slotOf(vals, field);
  const v = slot < 0 ? undefined : vals[slot];
  let s: string;
  if (typeof v === 'string') s = v;
  else if (typeof v === 'number' && Number.isFinite(v)) s = String(v);
  else if (v === undefined) s = '';
  else return new LineRejection(LineCode.InvalidField, `${KNOWN_KEYS[slot]} must be a string or a number`);
  if (isBlankText(s)) {
    return required ? new LineRejection(LineCode.MissingField, `missing ${describe(field)}`) : null;
  }
  if (s.length > MAX_FIELD_LENGTH) {
    return new LineRejection(LineCode.FieldTooLong, `${KNOWN_KEYS[slot]} is longer than ${MAX_FIELD_LENGTH} characters`);
  }
  return s;
}

/** s.trim() === '' without allocating for the usual non-blank text. */
function isBlankText(s: string): boolean {
  const c = s.charCodeAt(0);
  // A printable ASCII first character settles it; otherwise let trim() apply its Unicode rules.
  return c > 32 && c < 127 ? false : s.trim() === '';
}

function requiredText(vals: FieldValues, field: Field): string | LineRejection {
  // idText only returns null when the field is optional.
  return idText(vals, field, true) as string | LineRejection;
}

function describe(field: Field): string {
  const names = FIELD_ALIASES[field];
  return `${field} (${names.slice(0, -1).join(', ')}${names.length > 1 ? ' or ' : ''}${names[names.length - 1]})`;
}

function valueOf(vals: FieldValues): number | null | LineRejection {
  const slot = slotOf(vals, 'value');
  if (slot < 0) return null;
  const v = vals[slot];
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : Number.NaN;
  if (typeof v !== 'number' && typeof v !== 'string') {
    return new LineRejection(LineCode.InvalidField, `${KNOWN_KEYS[slot]} must be a number`);
  }
  if (!Number.isFinite(n)) return new LineRejection(LineCode.ValueNotFinite, `${KNOWN_KEYS[slot]} must be a finite number`);
  return n;
}

/**
 * Maps one line's field values to an event. A line without an eventId gets
 * ids.derive(lineNo, text) (`lineNo` 1-based, `text` the line without its
 * line break; only read when ids.needsText).
 */
export function eventOf(
  vals: FieldValues,
  ids: EventIds,
  lineNo: number,
  text: string | undefined,
): SessionEvent | LineRejection {
  const userId = requiredText(vals, 'userId');
  if (userId instanceof LineRejection) return userId;
  const name = requiredText(vals, 'name');
  if (name instanceof LineRejection) return name;
  const tsSlot = slotOf(vals, 'timestamp');
  if (tsSlot < 0) return new LineRejection(LineCode.MissingField, `missing ${describe('timestamp')}`);
  const ts = parseTimestamp(vals[tsSlot]);
  if (ts === null) {
    const raw = JSON.stringify(vals[tsSlot]) ?? '';
    return new LineRejection(
      LineCode.InvalidTimestamp,
      `${KNOWN_KEYS[tsSlot]} ${raw.slice(0, 64)} is not an RFC 3339 date-time or epoch seconds/milliseconds`,
    );
  }
  const channelId = idText(vals, 'channelId', false);
  if (channelId instanceof LineRejection) return channelId;
  const value = valueOf(vals);
  if (value instanceof LineRejection) return value;
  const explicitId = idText(vals, 'eventId', false);
  if (explicitId instanceof LineRejection) return explicitId;
  return {
    eventId: explicitId ?? ids.derive(lineNo, text),
    userId,
    name,
    ts,
    channelId,
    value,
  };
}

/** True when the line supplies its own eventId (a non-blank eventId, event_id or id). */
export function hasExplicitId(vals: FieldValues): boolean {
  const slot = slotOf(vals, 'eventId');
  if (slot < 0) return false;
  const v = vals[slot];
  return (typeof v === 'number' && Number.isFinite(v)) || (typeof v === 'string' && !isBlankText(v));
}

/**
 * The keys that go to `properties` on ingest: every key of the object except
 * the aliases that supplied a field. Null when nothing is left.
 */
export function propertiesOf(obj: Readonly<Record<string, unknown>>, vals: FieldValues): Record<string, unknown> | null {
  const used = new Set<string>();
  for (const f of FIELDS) {
    const slot = slotOf(vals, f);
    if (slot >= 0) used.add(KNOWN_KEYS[slot] as string);
  }
  let out: Record<string, unknown> | null = null;
  for (const key of Object.keys(obj)) {
    if (used.has(key)) continue;
    out ??= {};
    Object.defineProperty(out, key, { value: obj[key], enumerable: true, writable: true, configurable: true });
  }
  return out;
}
