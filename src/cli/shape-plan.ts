/**
 * What each value of a line shape (line-shape.ts) becomes, worked out once
 * per shape, so that the byte scanner can read lines of that shape straight
 * into LineFields (FlatObjectScanner.scanFields) instead of collecting raw
 * values for the field mapping (event-line.ts) line by line.
 *
 * The mapping takes each field from the first of its keys present and not
 * null. A string is never null, so when the known keys of a shape hold
 * strings (or a number, for a time or a value given by one key only), which
 * key supplies a field is the same for every line of the shape, and a plan
 * says so. Other shapes (a number, true, false or null where another key of
 * the field could take over, a number for an id or a name, a key twice) get
 * no plan: their lines take the general way. Values a plan covers but
 * cannot settle on the spot (a blank or very long id, an unusual timestamp,
 * true, false or null for a time or a value, a value that is not a finite
 * number) send their line the general way too, which then gives the verdict.
 */
import { FIELD_ALIASES, KNOWN_KEYS, type Field } from './field-values.ts';
import { ValueKind, type LineShape } from './line-shape.ts';

/** What the scanner does with a value. */
export const enum Role {
  /** Not a field's source (an unknown key, or an alias another one outranks): only checked as JSON. */
  Skip = 0,
  UserId = 1,
  Name = 2,
  ChannelId = 3,
  Timestamp = 4,
  EventId = 5,
  Value = 6,
}

const ROLE_OF_FIELD: Readonly<Record<Field, Role>> = {
  userId: Role.UserId,
  name: Role.Name,
  channelId: Role.ChannelId,
  timestamp: Role.Timestamp,
  eventId: Role.EventId,
  value: Role.Value,
};

/** Field of each known key, by slot. */
const FIELD_OF_SLOT: readonly Field[] = KNOWN_KEYS.map(
  (k) => (Object.keys(FIELD_ALIASES) as Field[]).find((f) => (FIELD_ALIASES[f] as readonly string[]).includes(k)) as Field,
);
/** Rank of each known key among its field's aliases (0 wins), by slot. */
const RANK_OF_SLOT: readonly number[] = KNOWN_KEYS.map((k, slot) =>
  (FIELD_ALIASES[FIELD_OF_SLOT[slot] as Field] as readonly string[]).indexOf(k),
);

/** A value's kinds that a role reads on the spot; others make the shape planless. */
function readable(role: Role, kind: ValueKind): boolean {
  if (kind === ValueKind.Text) return true;
  // Numbers: an epoch timestamp, or a value (true, false and null send the line the general way).
  return role === Role.Timestamp || role === Role.Value;
}

/** The role of each value of `shape`, or null when the shape has no plan (see the module comment). */
export function planOf(shape: LineShape): Uint8Array | null {
  const n = shape.slots.length;
  const roles = new Uint8Array(n); // Role.Skip
  /** Per field, the value that supplies it: the best-ranked alias present. */
  const supplier = new Map<Field, number>();
  const fieldCount = new Map<Field, number>();
  for (let k = 0; k < n; k++) {
    const slot = shape.slots[k] as number;
    if (slot < 0) continue;
    const field = FIELD_OF_SLOT[slot] as Field;
    fieldCount.set(field, (fieldCount.get(field) ?? 0) + 1);
    const best = supplier.get(field);
    if (best === undefined || (RANK_OF_SLOT[slot] as number) < (RANK_OF_SLOT[shape.slots[best] as number] as number)) {
      supplier.set(field, k);
    }
  }
  for (let k = 0; k < n; k++) {
    const slot = shape.slots[k] as number;
    if (slot < 0) continue;
    // A key twice (the last one wins), or an alias that may be null (then another
    // one supplies the field): which key supplies a field depends on the line.
    if (shape.slots.indexOf(slot) !== k) return null;
    if (shape.kinds[k] !== ValueKind.Text && fieldCount.get(FIELD_OF_SLOT[slot] as Field) !== 1) return null;
  }
  if (!supplier.has('userId') || !supplier.has('name') || !supplier.has('timestamp')) return null;
  for (const [field, k] of supplier) {
    const role = ROLE_OF_FIELD[field];
    if (!readable(role, shape.kinds[k] as ValueKind)) return null;
    roles[k] = role;
  }
  return roles;
}
