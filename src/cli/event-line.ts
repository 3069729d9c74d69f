/**
 * How one JSON line becomes an event: the field mapping shared by
 * `sessions ingest` and `sessions sessionize` (docs/cli.md, "Field mapping").
 *
 * A line's known keys arrive as raw values by slot (FieldValues, filled by
 * json-line.ts from the byte scanner or from JSON.parse) and are checked and
 * converted here. Pure: no I/O, no clock.
 */
import { FIELD_ALIASES, FIELD_MASK, FIELDS, KNOWN_KEYS, type Field, type FieldValues } from './field-values.ts';
import { parseTimestamp } from './timestamp.ts';

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

// Each field's slot bits, read once: a lookup by field name on the hot path
// would see several names at one site and slow down.
const USER_ID = FIELD_MASK.userId;
const NAME = FIELD_MASK.name;
const TIMESTAMP = FIELD_MASK.timestamp;
const CHANNEL_ID = FIELD_MASK.channelId;
const VALUE = FIELD_MASK.value;
const EVENT_ID = FIELD_MASK.eventId;

/**
 * An id-like field from `slot` (-1: absent): strings as they are, finite
 * numbers as their decimal text; blank counts as absent.
 */
function idText(vals: FieldValues, slot: number, field: Field, required: boolean): string | null | LineRejection {
  const v = slot < 0 ? undefined : vals.raw[slot];
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

function describe(field: Field): string {
  const names = FIELD_ALIASES[field];
  return `${field} (${names.slice(0, -1).join(', ')}${names.length > 1 ? ' or ' : ''}${names[names.length - 1]})`;
}

function valueOf(vals: FieldValues): number | null | LineRejection {
  const slot = vals.slotOf(VALUE);
  if (slot < 0) return null;
  const v = vals.raw[slot];
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : Number.NaN;
  if (typeof v !== 'number' && typeof v !== 'string') {
    return new LineRejection(LineCode.InvalidField, `${KNOWN_KEYS[slot]} must be a number`);
  }
  if (!Number.isFinite(n)) return new LineRejection(LineCode.ValueNotFinite, `${KNOWN_KEYS[slot]} must be a finite number`);
  return n;
}

/** One line's fields after mapping: a reusable record that mapFields() fills. */
export interface LineFields {
  userId: string;
  name: string;
  /** ms since the epoch. */
  ts: number;
  channelId: string | null;
  value: number | null;
  /** The line's own eventId (eventId, event_id or id), or null: the caller derives one (event-id.ts). */
  eventId: string | null;
  /** Interner ids of userId, name and channelId (LineParser.strings), or -1 where the text did not come from it. */
  userRef: number;
  nameRef: number;
  channelRef: number;
}

/** A record for mapFields() to fill. */
export function emptyLineFields(): LineFields {
  return { userId: '', name: '', ts: 0, channelId: null, value: null, eventId: null, userRef: -1, nameRef: -1, channelRef: -1 };
}

/**
 * Maps one line's field values into `out`: null when the line is an event
 * (`out` then holds it), else why it is refused (`out` is then unspecified).
 * Filling a reused record spares an object per line; each command builds
 * the event shape it needs from it.
 */
export function mapFields(vals: FieldValues, out: LineFields): LineRejection | null {
  const userSlot = vals.slotOf(USER_ID);
  const userId = idText(vals, userSlot, 'userId', true);
  if (typeof userId !== 'string') return userId as LineRejection; // required: never null
  const nameSlot = vals.slotOf(NAME);
  const name = idText(vals, nameSlot, 'name', true);
  if (typeof name !== 'string') return name as LineRejection;
  const tsSlot = vals.slotOf(TIMESTAMP);
  if (tsSlot < 0) return new LineRejection(LineCode.MissingField, `missing ${describe('timestamp')}`);
  const ts = (vals.timeBits & (1 << tsSlot)) !== 0 ? (vals.timeMs[tsSlot] as number) : parseTimestamp(vals.raw[tsSlot]);
  if (ts === null) {
    const raw = JSON.stringify(vals.raw[tsSlot]) ?? '';
    return new LineRejection(
      LineCode.InvalidTimestamp,
      `${KNOWN_KEYS[tsSlot]} ${raw.slice(0, 64)} is not an RFC 3339 date-time or epoch seconds/milliseconds`,
    );
  }
  const channelSlot = vals.slotOf(CHANNEL_ID);
  const channelId = idText(vals, channelSlot, 'channelId', false);
  if (channelId instanceof LineRejection) return channelId;
  const value = valueOf(vals);
  if (value instanceof LineRejection) return value;
  const eventId = idText(vals, vals.slotOf(EVENT_ID), 'eventId', false);
  if (eventId instanceof LineRejection) return eventId;
  out.userId = userId;
  out.name = name;
  out.ts = ts;
  out.channelId = channelId;
  out.value = value;
  out.eventId = eventId;
  out.userRef = refOf(vals, userSlot);
  out.nameRef = refOf(vals, nameSlot);
  out.channelRef = channelId === null ? -1 : refOf(vals, channelSlot);
  return null;
}

/** The interner id of a slot's text, when the field's text is that text (not a number made text). */
function refOf(vals: FieldValues, slot: number): number {
  return typeof vals.raw[slot] === 'string' ? (vals.refs[slot] as number) : -1;
}

/**
 * The keys that go to `properties` on ingest: every key of the object except
 * the aliases that supplied a field. Null when nothing is left.
 */
export function propertiesOf(obj: Readonly<Record<string, unknown>>, vals: FieldValues): Record<string, unknown> | null {
  const used = new Set<string>();
  for (const f of FIELDS) {
    const slot = vals.slotOf(FIELD_MASK[f]);
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
