/**
 * Reads a JSON line without JSON.parse building the whole object: one pass
 * over the text that takes the values of the mapping's keys (event-line.ts)
 * and keeps every other member as its raw text, in any order, with any
 * whitespace, CRLF, escapes or non-ASCII text. What it finds goes through
 * the same mapping and the service's own checks (checkEvent) as the general
 * path in line-events.ts; the scanner decides nothing itself.
 *
 * It only takes what it reads exactly as JSON.parse would. Anything else
 * (a mapped key twice, a key with an escape, a mapped value that is an
 * object, an array or a boolean, anything that is not valid JSON) makes it
 * answer false and the caller runs the general path, so such a line gets
 * the same event or the same coded refusal and message either way. One
 * exception, where JSON.parse loses what the line says: an integer id or
 * name beyond 2^53 is taken as it is written (numberText), which the
 * general path cannot do and refuses (event-line.ts InexactId).
 *
 * The other members become `properties`, as their text: the scanner
 * checks that it is JSON the service's checks take as it is (valueEnd), so
 * nothing parses it or writes it again. Its text may differ from the
 * canonical JSON the service stores (whitespace, escapes, a repeated key):
 * where that matters (a derived event id, sending it to the service), the
 * caller parses it. Properties the scanner cannot vouch for (nested deep,
 * NUL or surrogate escapes, numbers with exponents, large) go to the
 * general path, which judges them exactly.
 */
import { checkEvent, MAX_PROPERTIES_BYTES, MAX_PROPERTIES_DEPTH, type ValidationLimits } from '../ingest/validate.ts';
import { ALIAS_BY_HASH, ALIAS_LIMIT, beginFields, fieldsInput, keyHashStep, NUMBER_AS_TEXT, numberText, offerField } from './event-line.ts';
import type { LineSink } from './line-events.ts';

const QUOTE = 34;
const BACKSLASH = 92;
const COMMA = 44;
const COLON = 58;
const MINUS = 45;
const PLUS = 43;
const DOT = 46;
const ZERO = 48;
const NINE = 57;
const LOWER_E = 101;
const UPPER_E = 69;
const LEFT_BRACE = 123;
const RIGHT_BRACE = 125;
const LEFT_BRACKET = 91;
const RIGHT_BRACKET = 93;
const LOWER_N = 110;

/** Per line: the last line at which each alias was seen (a repeated key goes to the general path). */
const seenAt = new Float64Array(ALIAS_LIMIT).fill(-1);
let lineStamp = 0;
/** [start, end) of each other member's text in the line (key, colon and value). */
const spans: number[] = [];

function isWhitespace(c: number): boolean {
  return c === 32 || c === 9 || c === 10 || c === 13;
}

function skipWhitespace(text: string, i: number, end: number): number {
  while (i < end && isWhitespace(text.charCodeAt(i))) i++;
  return i;
}

function isDigit(c: number): boolean {
  return c >= ZERO && c <= NINE;
}

/** The end of a JSON number at i (RFC 8259 grammar), or -1. */
function numberEnd(text: string, i: number, end: number): number {
  if (text.charCodeAt(i) === MINUS) i++;
  const first = text.charCodeAt(i);
  if (first === ZERO) i++;
  else if (first > ZERO && first <= NINE) while (i < end && isDigit(text.charCodeAt(i))) i++;
  else return -1;
  if (text.charCodeAt(i) === DOT) {
    i++;
    if (!isDigit(text.charCodeAt(i))) return -1;
    while (i < end && isDigit(text.charCodeAt(i))) i++;
  }
  const e = text.charCodeAt(i);
  if (e === LOWER_E || e === UPPER_E) {
    i++;
    const sign = text.charCodeAt(i);
    if (sign === PLUS || sign === MINUS) i++;
    if (!isDigit(text.charCodeAt(i))) return -1;
    while (i < end && isDigit(text.charCodeAt(i))) i++;
  }
  return i > end ? -1 : i;
}

/**
 * The end of the JSON value at i, or -1 when it is not one this scanner
 * vouches for: invalid JSON, nested deeper than MAX_PROPERTIES_DEPTH
 * (`depth` is the nesting it sits in), a number with an exponent, a NUL or
 * a surrogate escape, or an unpaired surrogate (the general path then
 * judges the line exactly). A value it vouches for is JSON that the
 * service's checks take as it is: within the nesting, nothing unstorable,
 * and at most 3 bytes of canonical JSON per character of its text (a
 * character is at most 3 bytes of UTF-8, escapes only shrink, and a number
 * without an exponent gains at most one digit).
 */
function valueEnd(text: string, i: number, end: number, depth: number): number {
  const c = text.charCodeAt(i);
  if (c === QUOTE) return propertyStringEnd(text, i, end);
  if (c === MINUS || isDigit(c)) {
    const e = numberEnd(text, i, end);
    for (let k = i; k < e; k++) {
      const d = text.charCodeAt(k);
      if (d === LOWER_E || d === UPPER_E) return -1;
    }
    return e;
  }
  if (c === LEFT_BRACE || c === LEFT_BRACKET) {
    if (depth >= MAX_PROPERTIES_DEPTH) return -1;
    const object = c === LEFT_BRACE;
    const close = object ? RIGHT_BRACE : RIGHT_BRACKET;
    i = skipWhitespace(text, i + 1, end);
    if (text.charCodeAt(i) === close) return i + 1;
    for (;;) {
      if (object) {
        if (text.charCodeAt(i) !== QUOTE) return -1;
        i = skipWhitespace(text, propertyStringEnd(text, i, end), end);
        if (i < 0 || text.charCodeAt(i) !== COLON) return -1;
        i = skipWhitespace(text, i + 1, end);
      }
      const e = valueEnd(text, i, end, depth + 1);
      if (e < 0) return -1;
      i = skipWhitespace(text, e, end);
      const d = text.charCodeAt(i);
      if (d === close) return i + 1;
      if (d !== COMMA) return -1;
      i = skipWhitespace(text, i + 1, end);
    }
  }
  for (const literal of LITERALS) if (text.startsWith(literal, i)) return i + literal.length <= end ? i + literal.length : -1;
  return -1;
}

const LITERALS = ['true', 'false', 'null'] as const;
const LOWER_U = 117;

/** The end of the JSON string at i (after its closing quote), or -1: see valueEnd. */
function propertyStringEnd(text: string, i: number, end: number): number {
  for (i++; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) return i + 1;
    if (c < 0x20) return -1;
    if (c === BACKSLASH) {
      const e = text.charCodeAt(++i);
      if (e === LOWER_U) {
        const code = hex4At(text, i + 1);
        if (code <= 0 || (code >= 0xd800 && code <= 0xdfff)) return -1;
        i += 4;
      } else if (!SIMPLE_ESCAPES.includes(e)) {
        return -1;
      }
    } else if (c >= 0xd800 && c <= 0xdfff) {
      const next = text.charCodeAt(i + 1);
      if (c > 0xdbff || !(next >= 0xdc00 && next <= 0xdfff)) return -1;
      i++;
    }
  }
  return -1;
}

/** The value of the four hex digits at i, or -1 when they are not four hex digits. */
function hex4At(text: string, i: number): number {
  let v = 0;
  for (let k = i; k < i + 4; k++) {
    const c = text.charCodeAt(k);
    const lower = c | 0x20;
    const digit = c >= ZERO && c <= NINE ? c - ZERO : lower >= 0x61 && lower <= 0x66 ? lower - 0x61 + 10 : -1;
    if (digit < 0) return -1;
    v = v * 16 + digit;
  }
  return v;
}
/** The characters after a backslash that JSON allows, but u: " \ / b f n r t. */
const SIMPLE_ESCAPES = [QUOTE, BACKSLASH, 0x2f, 0x62, 0x66, 0x6e, 0x72, 0x74];

/** The alias of the key text[from, to) whose hash (keyHashStep over its characters) is `hash`, or -1 when it is not one of the mapping's keys. */
function aliasAt(text: string, from: number, to: number, hash: number): number {
  const entry = ALIAS_BY_HASH.get(hash);
  return entry !== undefined && entry[0].length === to - from && text.startsWith(entry[0], from) ? entry[1] : -1;
}

/**
 * Reads the line text[from, to) into `sink` (its event, or its refusal) and
 * returns true; or returns false, having done nothing, for a line the
 * general path must read.
 */
export function scanLine(text: string, from: number, to: number, line: number, limits: ValidationLimits, sink: LineSink): boolean {
  let i = skipWhitespace(text, from, to);
  if (text.charCodeAt(i) !== LEFT_BRACE) return false;
  i = skipWhitespace(text, i + 1, to);
  lineStamp++;
  spans.length = 0;
  beginFields();
  if (text.charCodeAt(i) === RIGHT_BRACE) {
    i++;
  } else {
    for (;;) {
      if (text.charCodeAt(i) !== QUOTE) return false;
      const keyStart = i;
      let k = i + 1;
      let hash = 0;
      for (; k < to; k++) {
        const c = text.charCodeAt(k);
        if (c === QUOTE) break;
        hash = keyHashStep(hash, c);
        if (c === BACKSLASH || c < 0x20 || (c >= 0xd800 && c <= 0xdfff)) return false;
      }
      if (k >= to) return false;
      const alias = aliasAt(text, i + 1, k, hash);
      i = skipWhitespace(text, k + 1, to);
      if (text.charCodeAt(i) !== COLON) return false;
      i = skipWhitespace(text, i + 1, to);
      if (alias < 0) {
        const end = valueEnd(text, i, to, 1);
        if (end < 0) return false;
        spans.push(keyStart, end);
        i = end;
      } else {
        if (seenAt[alias] === lineStamp) return false; // JSON.parse keeps the last one: the general path
        seenAt[alias] = lineStamp;
        const c = text.charCodeAt(i);
        let value: string | number | null;
        if (c === QUOTE) {
          let end = i + 1;
          let escaped = false;
          for (; end < to; end++) {
            const d = text.charCodeAt(end);
            if (d === QUOTE) break;
            if (d === BACKSLASH) {
              escaped = true;
              end++;
            } else if (d < 0x20) return false;
          }
          if (end >= to) return false;
          if (escaped) {
            try {
              value = JSON.parse(text.slice(i, end + 1)) as string;
            } catch {
              return false;
            }
          } else {
            value = text.slice(i + 1, end);
          }
          i = end + 1;
        } else if (c === MINUS || isDigit(c)) {
          const end = numberEnd(text, i, to);
          if (end < 0) return false;
          if (NUMBER_AS_TEXT[alias] === 1) {
            value = numberText(text.slice(i, end));
            if (value === null) return false; // JSON.parse would round it: the general path refuses it
          } else {
            value = Number(text.slice(i, end));
          }
          i = end;
        } else if (c === LOWER_N && text.startsWith('null', i)) {
          value = null;
          i += 4;
        } else {
          return false; // an object, array or boolean where a field is expected: refused by the general path's checks
        }
        offerField(alias, value);
      }
      i = skipWhitespace(text, i, to);
      const c = text.charCodeAt(i);
      if (c === COMMA) {
        i = skipWhitespace(text, i + 1, to);
        continue;
      }
      if (c === RIGHT_BRACE) {
        i++;
        break;
      }
      return false;
    }
  }
  if (skipWhitespace(text, i, to) !== to) return false;
  if (spans.length === 0) {
    const outcome = checkEvent(fieldsInput(undefined), limits);
    if (outcome.ok) sink.event(outcome.event, line);
    else sink.refuse({ line, code: outcome.code, message: outcome.message });
    return true;
  }
  return withProperties(text, line, limits, sink);
}

/**
 * The rest of scanLine for a line with other members: their text, as it
 * is, is the properties' JSON. valueEnd vouched for each value, so the
 * service's checks would take them unless they are too large; within
 * maxBytes / 3 characters they cannot be (see valueEnd), larger ones go to
 * the general path. The event's attribution stays null: the file commands
 * read none (docs/cli.md; `sessions ingest` sends the properties and the
 * service derives it).
 */
function withProperties(text: string, line: number, limits: ValidationLimits, sink: LineSink): boolean {
  let members = text.slice(spans[0], spans[1]);
  for (let s = 2; s < spans.length; s += 2) members += `,${text.slice(spans[s], spans[s + 1])}`;
  if ((members.length + 2) * 3 > (limits.maxPropertiesBytes ?? MAX_PROPERTIES_BYTES)) return false;
  const outcome = checkEvent(fieldsInput(undefined), limits);
  if (outcome.ok) sink.event({ ...outcome.event, properties: `{${members}}` }, line);
  else sink.refuse({ line, code: outcome.code, message: outcome.message });
  return true;
}
