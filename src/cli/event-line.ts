/**
 * How one JSON line becomes the service's EventInput (docs/cli.md, "Field
 * mapping"), for `sessions ingest` and `sessions sessionize` alike. Only the
 * mapping is here: the checks are the service's own (src/ingest/validate.ts).
 * Pure: no I/O, no clock.
 */
import { InvalidDateTime, parseRfc3339, type DateTimeInput } from '../datetime.ts';
import type { EventInput } from '../ingest/validate.ts';

/** Accepted keys per field, in precedence order: the first one present and not null wins. */
export const FIELD_ALIASES = {
  name: ['name', 'event_name', 'event_type', 'event'],
  userId: ['userId', 'user_id'],
  timestamp: ['timestamp', 'ts', 'time', 'event_time'],
  channelId: ['channelId', 'channel_id'],
  value: ['value', 'purchase_value', 'revenue', 'amount'],
  eventId: ['eventId', 'event_id', 'id'],
} as const;

type Field = keyof typeof FIELD_ALIASES;
const FIELDS = Object.keys(FIELD_ALIASES) as Field[];
const NAME = FIELDS.indexOf('name');
const USER = FIELDS.indexOf('userId');
const TIME = FIELDS.indexOf('timestamp');
const CHANNEL = FIELDS.indexOf('channelId');
const VALUE = FIELDS.indexOf('value');
const EVENT_ID = FIELDS.indexOf('eventId');

/** Key -> field index * 8 + precedence. */
const ALIAS = new Map<string, number>(
  FIELDS.flatMap((f, i) => FIELD_ALIASES[f].map((key, rank): [string, number] => [key, i * 8 + rank])),
);
/** One character of a key's hash (from 0, in 32 bits): a reader folds each character in as it reads the key (line-scanner.ts). */
export function keyHashStep(h: number, c: number): number {
  return (Math.imul(h, 31) + c) | 0;
}

function keyHash(key: string): number {
  let h = 0;
  for (let i = 0; i < key.length; i++) h = keyHashStep(h, key.charCodeAt(i));
  return h;
}

/** The table's keys by keyHash, for a reader that matches them in its text without slicing (line-scanner.ts). */
export const ALIAS_BY_HASH: ReadonlyMap<number, readonly [key: string, alias: number]> = (() => {
  const out = new Map<number, readonly [string, number]>();
  for (const [key, alias] of ALIAS) {
    if (out.has(keyHash(key))) throw new Error(`internal error: two keys of the mapping share a hash (${key})`);
    out.set(keyHash(key), [key, alias]);
  }
  return out;
})();
/** Distinct aliases (field index * 8 + precedence) are below this. */
export const ALIAS_LIMIT = FIELDS.length * 8;

/** Epoch numbers below this are seconds, from it on milliseconds (10^11 s is the year 5138). */
const SECONDS_BELOW = 1e11;
/** Largest |ms| a JavaScript Date holds. */
const MAX_DATE_MS = 8.64e15;

/** A line that is not a JSON object: refused before the service's checks. */
export const INVALID_JSON = 'INVALID_JSON';

/** Reused per line: the value and precedence of the best key seen for each field. */
const best: unknown[] = new Array<unknown>(FIELDS.length);
const rank = new Int8Array(FIELDS.length);

/**
 * The EventInput of a parsed line: the table's keys give the fields (ids
 * that are numbers become their decimal text), every other key goes to
 * `properties`. Wrong types are passed on for validation to refuse.
 */
export function eventInputOf(obj: Readonly<Record<string, unknown>>): EventInput {
  beginFields();
  let properties: Record<string, unknown> | undefined;
  for (const key in obj) {
    const a = ALIAS.get(key);
    const v = obj[key];
    if (a !== undefined) {
      offerField(a, v);
      continue;
    }
    properties ??= {};
    // "__proto__" from JSON.parse is an own key: keep it one (plain assignment would set the prototype).
    if (key === '__proto__') Object.defineProperty(properties, key, { value: v, enumerable: true, writable: true, configurable: true });
    else properties[key] = v;
  }
  return fieldsInput(properties);
}

/**
 * The three steps of the mapping, shared by eventInputOf and the scanner
 * (line-scanner.ts): begin a line, offer each key's value under its alias
 * (ALIAS order: field index * 8 + precedence), then take the EventInput.
 */
export function beginFields(): void {
  rank.fill(8);
}

/** The value of a table key of the line: kept when not null and of a better precedence than the field's so far. */
export function offerField(alias: number, v: unknown): void {
  const f = alias >> 3;
  if (v !== null && (alias & 7) < (rank[f] as number)) {
    rank[f] = alias & 7;
    best[f] = v;
  }
}

/** The EventInput of the values offered since beginFields, with these properties. */
export function fieldsInput(properties: unknown): EventInput {
  const input: EventInput = {
    eventId: rank[EVENT_ID] === 8 ? null : idText(best[EVENT_ID]),
    userId: rank[USER] === 8 ? (null as unknown as string) : (idText(best[USER]) as string),
    name: rank[NAME] === 8 ? (null as unknown as string) : (idText(best[NAME]) as string),
    timestamp: rank[TIME] === 8 ? (null as unknown as number) : timeOf(best[TIME]),
    channelId: rank[CHANNEL] === 8 ? null : idText(best[CHANNEL]),
    value: rank[VALUE] === 8 ? null : valueOf(best[VALUE]),
    properties,
  };
  best.fill(undefined);
  return input;
}

/** Ids and names: numbers as their decimal text, the rest as it is. */
function idText(v: unknown): string | null {
  if (typeof v !== 'number') return v as string;
  if (Number.isInteger(v) && !Number.isSafeInteger(v)) throw new InexactId(v);
  return String(v);
}

/** Fields whose numbers become their decimal text (ids and names), by alias. */
export const NUMBER_AS_TEXT: Uint8Array = (() => {
  const out = new Uint8Array(ALIAS_LIMIT);
  for (const f of [NAME, USER, CHANNEL, EVENT_ID]) for (let rank = 0; rank < 8; rank++) out[f * 8 + rank] = 1;
  return out;
})();


/**
 * The decimal text of a number literal of a line, for an id or a name: an
 * integer as it is written, whatever its size (64-bit ids such as
 * 1234567890123456789 stay exact and distinct; `-0` is `0`), any other
 * number as JavaScript prints it (`1.50` is `1.5`, `1e2` is `100`); null for
 * one JavaScript cannot print exactly (an integer beyond 2^53 written with
 * a fraction or an exponent, `1e21`): the caller leaves the line to the
 * general path, which refuses it (InexactId).
 */
export function numberText(literal: string): string | null {
  if (isInteger(literal)) return literal === '-0' ? '0' : literal;
  const n = Number(literal);
  return Number.isInteger(n) && !Number.isSafeInteger(n) ? null : String(n);
}

/** A JSON number literal without a fraction or an exponent (read for every numeric id: no regex). */
function isInteger(literal: string): boolean {
  for (let i = 0; i < literal.length; i++) {
    const c = literal.charCodeAt(i);
    if (c === 0x2e || c === 0x65 || c === 0x45) return false; // . e E
  }
  return true;
}

/**
 * An integer id beyond 2^53 that JSON.parse already rounded: the general
 * path (line-events.ts) refuses the line rather than merge two ids. The
 * scanner reads such ids exactly (numberText); only lines it leaves to
 * JSON.parse (a repeated key, an escape in a key, ...) come here.
 */
export class InexactId extends Error {
  constructor(readonly rounded: number) {
    super(`an id or name is an integer beyond 2^53 (about ${rounded}) on a line read with JSON.parse, which rounds it; write it as a string`);
  }
}

/**
 * A value: a number, or a string holding a decimal one (`"12.50"`, `" 3e2 "`);
 * a blank string is no value. Other strings, hexadecimal (`"0x10"`) and
 * `"Infinity"` among them, are no number (NaN: VALUE_NOT_FINITE), where
 * JavaScript's Number() would read some of them.
 */
function valueOf(v: unknown): number | null {
  if (typeof v !== 'string') return v as number;
  if (v.trim() === '') return null;
  return DECIMAL_TEXT.test(v) ? Number(v) : Number.NaN;
}

const DECIMAL_TEXT = /^\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*$/;

/**
 * A timestamp: RFC 3339 (an offset is optional here: text without one is
 * UTC), or epoch seconds or milliseconds as a number or a string of digits,
 * rounded to the millisecond (docs/cli.md, "Time").
 */
export function timeOf(v: unknown): DateTimeInput {
  if (typeof v === 'number') return epoch(v, v);
  if (typeof v !== 'string') return new InvalidDateTime(JSON.stringify(v), FILE_TIME);
  const ms = parseRfc3339(v);
  if (ms !== null) return ms;
  const last = v.charCodeAt(v.length - 1);
  if (v.length >= 19 && last >= 48 && last <= 57 && v.charCodeAt(4) === 45) {
    const utc = parseRfc3339(`${v}Z`);
    if (utc !== null) return utc;
  }
  if (EPOCH_TEXT.test(v)) return epoch(Number(v), v);
  const iso = ISO_OFFSET.exec(v);
  if (iso !== null) {
    const utc = parseRfc3339(`${iso[1]}${iso[2] === undefined ? 'Z' : `${iso[2]}:${iso[3] ?? '00'}`}`);
    if (utc !== null) return utc;
  }
  return new InvalidDateTime(v, FILE_TIME);
}

/** The forms a file's time may take (docs/cli.md, "Time"), for the message of INVALID_TIMESTAMP. */
const FILE_TIME = 'an RFC 3339 date-time (the offset is optional) or epoch seconds or milliseconds (e.g. 2026-01-31T12:00:00Z, 1769860800)';

const EPOCH_TEXT = /^-?\d+(\.\d+)?$/;
/**
 * Offsets RFC 3339 lacks, as ISO 8601 and common exports write them: `+0200`
 * and `+02` (as Python's datetime.fromisoformat reads them), and a trailing
 * ` UTC` or `UTC` (BigQuery's and many logs' text).
 */
const ISO_OFFSET = /^(\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d:\d\d(?:\.\d+)?)(?: ?UTC|([+-]\d\d)(\d\d)?)$/;

function epoch(n: number, raw: unknown): DateTimeInput {
  const ms = Math.round(Math.abs(n) < SECONDS_BELOW ? n * 1000 : n);
  return Math.abs(ms) <= MAX_DATE_MS ? ms : new InvalidDateTime(String(raw), FILE_TIME);
}
