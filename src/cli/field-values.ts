/**
 * The known keys of a JSON line (docs/cli.md, "Field mapping") and the raw
 * values of one line by key: what the byte scanner or JSON.parse hands to the
 * mapping (event-line.ts).
 */

/** Accepted keys per field, in precedence order: the first one present and not null wins. */
export const FIELD_ALIASES = {
  name: ['name', 'event_name', 'event_type', 'event'],
  userId: ['userId', 'user_id'],
  channelId: ['channelId', 'channel_id'],
  timestamp: ['timestamp', 'ts', 'time', 'event_time'],
  value: ['value', 'purchase_value', 'revenue', 'amount'],
  eventId: ['eventId', 'event_id', 'id'],
} as const;

export type Field = keyof typeof FIELD_ALIASES;
export const FIELDS = Object.keys(FIELD_ALIASES) as Field[];

/** Every alias, flattened; a key's position in this list is its slot in FieldValues. */
export const KNOWN_KEYS: readonly string[] = FIELDS.flatMap((f) => FIELD_ALIASES[f]);

/** Bits of each field's slots in FieldValues.present (KNOWN_KEYS has fewer than 32 keys). */
export const FIELD_MASK: Readonly<Record<Field, number>> = ((): Record<Field, number> => {
  const out = {} as Record<Field, number>;
  let at = 0;
  for (const f of FIELDS) {
    out[f] = ((1 << FIELD_ALIASES[f].length) - 1) << at;
    at += FIELD_ALIASES[f].length;
  }
  return out;
})();

/**
 * The raw values of one line's known keys, by slot. Reused line after line:
 * `present` marks the slots holding a value other than null, so finding a
 * field's alias and clearing are a few bit operations.
 */
export class FieldValues {
  readonly raw: unknown[] = new Array<unknown>(KNOWN_KEYS.length).fill(undefined);
  /** Per slot: the interner id of raw[slot] (the byte scanner's StringInterner), or -1. */
  readonly refs = new Int32Array(KNOWN_KEYS.length).fill(-1);
  /** Bit i: raw[i] holds a value (not undefined or null). */
  present = 0;
  /** Bit i: the byte scanner already read slot i's timestamp (raw[i] then holds nothing), into timeMs[i]. */
  timeBits = 0;
  /** Those timestamps by slot, ms since the epoch (a line may hold several time keys). */
  readonly timeMs = new Float64Array(KNOWN_KEYS.length);
  /** Some slot holds null (not in `present`). */
  private hasNull = false;

  /** Forgets the last line. */
  clear(): void {
    const raw = this.raw;
    const refs = this.refs;
    for (let bits = this.present; bits !== 0; bits &= bits - 1) {
      const slot = 31 - Math.clz32(bits & -bits);
      raw[slot] = undefined;
      refs[slot] = -1;
    }
    // null values are not in `present`; they are rare, so a full sweep for them is cheap enough.
    if (this.hasNull) raw.fill(undefined);
    this.present = 0;
    this.hasNull = false;
    this.timeBits = 0;
  }

  /** Sets a slot's value (a key repeated in a line: the last one wins, as in JSON.parse). */
  set(slot: number, value: unknown): void {
    this.raw[slot] = value;
    this.refs[slot] = -1;
    this.timeBits &= ~(1 << slot);
    if (value === null || value === undefined) {
      this.present &= ~(1 << slot);
      if (value === null) this.hasNull = true;
    } else {
      this.present |= 1 << slot;
    }
  }

  /** Sets a slot's value, a string the interner knows by `id`. */
  setInterned(slot: number, value: string, id: number): void {
    this.set(slot, value);
    this.refs[slot] = id;
  }

  /** Forgets the interner ids of this line (the interner started over while reading it). */
  dropRefs(): void {
    this.refs.fill(-1);
  }

  /** Marks a slot as holding a timestamp already read as `ms`. */
  setTime(slot: number, ms: number): void {
    this.raw[slot] = undefined;
    this.present |= 1 << slot;
    this.timeBits |= 1 << slot;
    this.timeMs[slot] = ms;
  }

  /**
   * Slot of the alias that supplies a field (the first present), or -1.
   * `mask`: the field's FIELD_MASK (a number, so that this stays a few
   * instructions where one call site asks for several fields).
   */
  slotOf(mask: number): number {
    const bits = this.present & mask;
    return bits === 0 ? -1 : 31 - Math.clz32(bits & -bits);
  }

  /** Copies the known keys of a parsed JSON object. */
  fillFrom(obj: Readonly<Record<string, unknown>>): this {
    this.clear();
    for (let i = 0; i < KNOWN_KEYS.length; i++) {
      const key = KNOWN_KEYS[i] as string;
      if (Object.hasOwn(obj, key)) this.set(i, obj[key]);
    }
    return this;
  }
}
