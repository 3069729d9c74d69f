import { createHash } from 'node:crypto';
import { InvalidDateTime, type DateTimeInput } from '../datetime.ts';
import { RejectCode } from '../errors.ts';
import { attributionOf, type EventAttribution } from '../sessionizer/attribution.ts';

/** An event as the GraphQL layer hands it over (already shaped by the schema). */
export interface EventInput {
  readonly eventId?: string | null;
  readonly userId: string;
  readonly name: string;
  readonly timestamp: DateTimeInput;
  readonly channelId?: string | null;
  readonly value?: number | null;
  readonly properties?: unknown;
}

/** A validated event ready for the writer. `ts` in ms since the epoch. */
export interface ValidEvent {
  readonly eventId: string;
  readonly userId: string;
  readonly name: string;
  readonly ts: number;
  readonly channelId: string | null;
  readonly value: number | null;
  /** JSON text of properties, or null. */
  readonly properties: string | null;
  /** Attribution inputs read from the properties (url, referrer, utm), or null. */
  readonly attribution: EventAttribution | null;
}

export interface Rejection {
  readonly index: number;
  readonly code: RejectCode;
  readonly message: string;
}

/** Longest accepted id or name, in characters. */
export const MAX_FIELD_LENGTH = 256;
/** Largest accepted properties object, as JSON text. */
export const MAX_PROPERTIES_BYTES = 16_384;
/**
 * Largest accepted |value|. Finite values can still add up to Infinity in a
 * session's totalValue, which GraphQL's Float cannot return: with this bound
 * no session of fewer than 10^293 events overflows.
 */
export const MAX_ABS_VALUE = 1e15;
/** Deepest accepted nesting of properties (objects and arrays). Postgres and JSON.stringify both recurse. */
export const MAX_PROPERTIES_DEPTH = 32;

/** Limits that depend on configuration and the clock. */
export interface ValidationLimits {
  readonly nowMs: number;
  readonly maxFutureSkewMs: number;
  /** Largest properties as JSON bytes; default MAX_PROPERTIES_BYTES (the Segment endpoints allow their 32 KB message). */
  readonly maxPropertiesBytes?: number;
}

/** A valid event before its id is derived: eventId is null when it was sent without one. */
export interface CheckedEvent extends Omit<ValidEvent, 'eventId'> {
  readonly eventId: string | null;
}

/**
 * The times an event may carry: the years 0001 to 9999 of RFC 3339. Postgres
 * would store year 0 (as 1 BC), but its text then breaks the session cursors
 * and ranges the API hands out.
 */
const MIN_TIMESTAMP_MS = Date.parse('0001-01-01T00:00:00Z');
const MAX_TIMESTAMP_MS = Date.parse('9999-12-31T23:59:59.999Z');

/** Why an event is refused. */
export interface Failure {
  readonly ok: false;
  readonly code: RejectCode;
  readonly message: string;
}
export type CheckOutcome = { readonly ok: true; readonly event: CheckedEvent } | Failure;

function text(value: unknown, field: string, required: boolean): { ok: true; value: string | null } | Failure {
  if (value === null || value === undefined || (typeof value === 'string' && value.trim() === '')) {
    return required ? { ok: false, code: RejectCode.MissingField, message: `${field} is required` } : { ok: true, value: null };
  }
  if (typeof value !== 'string') return { ok: false, code: RejectCode.InvalidField, message: `${field} must be a string` };
  if (value.length > MAX_FIELD_LENGTH) {
    return { ok: false, code: RejectCode.FieldTooLong, message: `${field} is longer than ${MAX_FIELD_LENGTH} characters` };
  }
  if (mayBeUnstorable(value) && UNSTORABLE.test(value)) return { ok: false, code: RejectCode.InvalidField, message: `${field} ${UNSTORABLE_MESSAGE}` };
  return { ok: true, value };
}

/**
 * Text Postgres cannot store as sent: NUL (text and jsonb refuse it) and
 * unpaired UTF-16 surrogates (not Unicode; jsonb refuses their escapes, text
 * would silently turn them into U+FFFD). Left in, one such event would fail
 * the whole group commit it shares with other callers.
 */
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/u;
/** A cheap first test: text without NUL or any surrogate (nearly all) cannot match UNSTORABLE. */
const NUL_OR_SURROGATE = /[\u0000\ud800-\udfff]/;
function mayBeUnstorable(text: string): boolean {
  return NUL_OR_SURROGATE.test(text);
}
const UNSTORABLE_MESSAGE = 'contains a NUL character or an unpaired surrogate, which cannot be stored';

/**
 * Checks one event and converts it (codes and messages as IngestResult
 * reports them); an event sent without an id keeps eventId null: its derived
 * id is {@link deriveEventId}'s, computed by the caller (now, or only where
 * it can matter, as the command line does).
 */
export function checkEvent(input: EventInput, limits: ValidationLimits): CheckOutcome {
  const userId = text(input.userId, 'userId', true);
  if (!userId.ok) return userId;
  const name = text(input.name, 'name', true);
  if (!name.ok) return name;
  const eventId = text(input.eventId, 'eventId', false);
  if (!eventId.ok) return eventId;
  const channelId = text(input.channelId, 'channelId', false);
  if (!channelId.ok) return channelId;
  const ts = input.timestamp;
  if (ts === null || ts === undefined) return { ok: false, code: RejectCode.MissingField, message: 'timestamp is required' };
  if (ts instanceof InvalidDateTime || !Number.isFinite(ts)) {
    return {
      ok: false,
      code: RejectCode.InvalidTimestamp,
      message: ts instanceof InvalidDateTime ? `timestamp: ${ts.message}` : 'timestamp is not a valid date-time',
    };
  }
  if (ts < MIN_TIMESTAMP_MS || ts > MAX_TIMESTAMP_MS) {
    return { ok: false, code: RejectCode.InvalidTimestamp, message: 'timestamp must be within the years 0001 to 9999' };
  }
  if (ts > limits.nowMs + limits.maxFutureSkewMs) {
    return {
      ok: false,
      code: RejectCode.FutureTimestamp,
      message: `timestamp is more than ${limits.maxFutureSkewMs} ms ahead of the server clock`,
    };
  }
  const value = input.value ?? null;
  if (value !== null && (typeof value !== 'number' || !Number.isFinite(value))) {
    return { ok: false, code: RejectCode.ValueNotFinite, message: 'value must be a finite number' };
  }
  if (value !== null && Math.abs(value) > MAX_ABS_VALUE) {
    return { ok: false, code: RejectCode.ValueOutOfRange, message: `value must be between -${MAX_ABS_VALUE} and ${MAX_ABS_VALUE}` };
  }
  let properties: string | null = null;
  if (input.properties !== null && input.properties !== undefined) {
    const checked = propertiesText(input.properties, limits.maxPropertiesBytes ?? MAX_PROPERTIES_BYTES);
    if (!checked.ok) return checked;
    properties = checked.text;
  }
  return {
    ok: true,
    event: {
      eventId: eventId.value,
      userId: userId.value as string,
      name: name.value as string,
      ts,
      channelId: channelId.value,
      value,
      properties,
      attribution: properties === null ? null : attributionOf(input.properties),
    },
  };
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const LOWER_U = 0x75;
const ZERO = 0x30;
const LOWER_D = 0x64;
const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;

/** What opens a nesting level of JSON. */
const OPENERS = ['{', '['] as const;

const TOO_DEEP: Failure = {
  ok: false,
  code: RejectCode.PropertiesTooLarge,
  message: `properties are nested deeper than ${MAX_PROPERTIES_DEPTH} levels`,
};

/**
 * The JSON text properties are stored as, or why they cannot be: nested
 * deeper than MAX_PROPERTIES_DEPTH (objects and arrays), holding text
 * Postgres cannot store (UNSTORABLE, in a key or a string), or larger than
 * `maxBytes` of UTF-8; in that order when several apply.
 *
 * Judged on the text JSON.stringify writes (one scan, and only when a
 * native search finds a reason for it): nesting is the brackets outside
 * strings, and JSON.stringify writes a NUL as \u0000 and an unpaired
 * surrogate as \udXXX (the only \u escapes it writes besides the other
 * control characters, \u00XX), so both show as escapes there. A
 * document nested too deep for JSON.stringify itself (thousands of levels)
 * fails it with a RangeError: too deep as well. Walking the value instead
 * (a stack of entries per object) cost more than the stringify itself:
 * checkEvent 2.1 -> 0.9 us with a small nested object.
 */
function propertiesText(value: unknown, maxBytes: number): { ok: true; text: string } | Failure {
  let json: string;
  try {
    json = JSON.stringify(value);
  } catch (error) {
    if (error instanceof RangeError) return TOO_DEEP;
    throw error;
  }
  if (mayBeRefused(json)) {
    const refusal = refusalOf(json);
    if (refusal !== null) return refusal;
  }
  if (Buffer.byteLength(json) > maxBytes) {
    return { ok: false, code: RejectCode.PropertiesTooLarge, message: `properties are larger than ${maxBytes} bytes of JSON` };
  }
  return { ok: true, text: json };
}

/**
 * Whether propertiesText must scan the text: only when it holds a \u escape
 * or more opening brackets (in strings too) than the nesting allowed; most
 * texts hold neither, and native searches tell it faster than a scan.
 */
function mayBeRefused(json: string): boolean {
  if (json.includes('\\u')) return true;
  let openers = 0;
  for (const bracket of OPENERS) {
    for (let i = json.indexOf(bracket); i >= 0; i = json.indexOf(bracket, i + 1)) {
      if (++openers > MAX_PROPERTIES_DEPTH) return true;
    }
  }
  return false;
}

/** The scan of propertiesText: too deep, then unstorable, or null. */
function refusalOf(json: string): Failure | null {
  let depth = 0;
  let unstorable = false; // judged after the nesting, which is refused first
  for (let i = 0; i < json.length; i++) {
    const c = json.charCodeAt(i);
    if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (++depth > MAX_PROPERTIES_DEPTH) return TOO_DEEP;
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      depth--;
    } else if (c === QUOTE) {
      // A string (or key): only its escapes matter.
      for (i++; i < json.length && json.charCodeAt(i) !== QUOTE; i++) {
        if (json.charCodeAt(i) !== BACKSLASH) continue;
        i++;
        if (json.charCodeAt(i) !== LOWER_U) continue;
        const hi = json.charCodeAt(i + 1);
        if (hi === LOWER_D || (hi === ZERO && json.startsWith('000', i + 2))) unstorable = true;
        i += 4;
      }
    }
  }
  return unstorable ? { ok: false, code: RejectCode.InvalidField, message: `properties ${UNSTORABLE_MESSAGE}` } : null;
}

/** Prefix of the ids the service derives for events sent without one. */
export const DERIVED_EVENT_ID_PREFIX = 'derived:';

/**
 * The id of an event sent without one: a hash of everything it says (user,
 * name, timestamp in ms, channel, value, properties as sent). A retried event
 * is then a duplicate, as with Mixpanel's content-based dedup; two events that
 * agree in every field and millisecond count once (send ids to keep both).
 * 128 bits of SHA-256: collisions between different events are not a concern.
 */
export function deriveEventId(e: Pick<CheckedEvent, 'userId' | 'name' | 'ts' | 'channelId' | 'value' | 'properties'>): string {
  const content = JSON.stringify([e.userId, e.name, e.ts, e.channelId, e.value, e.properties]);
  return DERIVED_EVENT_ID_PREFIX + createHash('sha256').update(content).digest('base64url').slice(0, 22);
}

/** checkEvent, with the derived id of an event sent without one. */
export function validateEvent(input: EventInput, limits: ValidationLimits): { ok: true; event: ValidEvent } | Failure {
  const outcome = checkEvent(input, limits);
  if (!outcome.ok || outcome.event.eventId !== null) return outcome as { ok: true; event: ValidEvent } | Failure;
  return { ok: true, event: { ...outcome.event, eventId: deriveEventId(outcome.event) } };
}

/** Splits a batch into valid events (in input order, with their index) and coded rejections. */
export function validateEvents(
  inputs: readonly EventInput[],
  limits: ValidationLimits,
): { valid: ValidEvent[]; rejected: Rejection[] } {
  const valid: ValidEvent[] = [];
  const rejected: Rejection[] = [];
  inputs.forEach((input, index) => {
    const outcome = validateEvent(input, limits);
    if (outcome.ok) valid.push(outcome.event);
    else rejected.push({ index, code: outcome.code, message: outcome.message });
  });
  return { valid, rejected };
}
