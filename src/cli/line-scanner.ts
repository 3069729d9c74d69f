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
 * the same event or the same coded refusal and message either way.
 *
 * The other members become `properties`. Their raw text is parsed with
 * JSON.parse (which also judges whether it is valid JSON) and checked by
 * checkEvent; the outcome for a given text is then remembered (a bounded
 * cache), because exports repeat the same properties on many lines: a
 * later line with the same text is checked by checkEvent without them and
 * gets the remembered canonical text. That is exact: checkEvent judges the
 * properties last, and by themselves. Where properties differ on every line
 * (a page URL, a request id: most real exports) the cache only costs
 * (hashing and keeping the texts: 6.0 -> 7.8 s to parse 1M such lines), so
 * whenever few lookups hit, such lines go to the general path for a while.
 */
import { checkEvent, type CheckedEvent, type ValidationLimits } from '../ingest/validate.ts';
import { ALIAS_LIMIT, ALIASES_BY_LENGTH, beginFields, fieldsInput, offerField } from './event-line.ts';
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

/** What checkEvent made of a properties text that passed: its canonical JSON and attribution. */
type CheckedProperties = Pick<CheckedEvent, 'properties' | 'attribution'>;

/** Distinct properties texts remembered; the cache starts over when full. */
const CACHE_ENTRIES = 16_384;
/** Longer properties texts are not remembered (nearly always unique, and large). */
const CACHE_KEY_CHARS = 2_048;
const checkedProperties = new Map<string, CheckedProperties>();
/** Lookups per judgement of the cache, and the hits it needs to stay in use. */
const CACHE_WINDOW = 4_096;
const CACHE_MIN_HITS = CACHE_WINDOW / 8;
/** Lines with other members left to the general path after a window with too few hits. */
const CACHE_PAUSE = 16 * CACHE_WINDOW;
const cacheUse = { lookups: 0, hits: 0, paused: 0 };

/**
 * Whether to scan a line that has other members: not while the cache is
 * paused. Without the cache, JSON.parse of the whole line (the general
 * path) is faster than scanning it and then parsing its other members
 * (1M lines of a web analytics export: 4.6 against 5.7 s).
 */
function scanOtherMembers(): boolean {
  if (cacheUse.paused === 0) return true;
  cacheUse.paused--;
  return false;
}

/** The remembered outcome for a properties text, if any; judges the cache after each window of lookups. */
function lookUp(members: string): CheckedProperties | undefined {
  const known = checkedProperties.get(members);
  if (known !== undefined) cacheUse.hits++;
  if (++cacheUse.lookups === CACHE_WINDOW) {
    if (cacheUse.hits < CACHE_MIN_HITS) {
      cacheUse.paused = CACHE_PAUSE;
      checkedProperties.clear();
    }
    cacheUse.lookups = 0;
    cacheUse.hits = 0;
  }
  return known;
}

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

/** The end of the string whose opening quote is at i (after its closing quote), or -1. */
function stringEnd(text: string, i: number, end: number): number {
  for (i++; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) return i + 1;
    if (c === BACKSLASH) i++;
    else if (c < 0x20) return -1;
  }
  return -1;
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
 * The end of the value at i, not judged (JSON.parse of the properties
 * does): a string, a bracketed value with its nesting, or a scalar up to
 * the next delimiter. -1 when it does not end in the line.
 */
function valueEnd(text: string, i: number, end: number): number {
  const c = text.charCodeAt(i);
  if (c === QUOTE) return stringEnd(text, i, end);
  if (c === LEFT_BRACE || c === LEFT_BRACKET) {
    let depth = 0;
    for (; i < end; i++) {
      const d = text.charCodeAt(i);
      if (d === QUOTE) {
        i = stringEnd(text, i, end) - 1;
        if (i < 0) return -1;
      } else if (d === LEFT_BRACE || d === LEFT_BRACKET) depth++;
      else if ((d === RIGHT_BRACE || d === RIGHT_BRACKET) && --depth === 0) return i + 1;
    }
    return -1;
  }
  const from = i;
  for (; i < end; i++) {
    const d = text.charCodeAt(i);
    if (d === COMMA || d === RIGHT_BRACE || d === RIGHT_BRACKET || isWhitespace(d)) break;
  }
  return i > from ? i : -1;
}

/** The alias of the key text[from, to), or -1 when it is not one of the mapping's keys. */
function aliasAt(text: string, from: number, to: number): number {
  const candidates = ALIASES_BY_LENGTH[to - from];
  if (candidates === undefined) return -1;
  for (const [key, alias] of candidates) if (text.startsWith(key, from)) return alias;
  return -1;
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
      for (; k < to; k++) {
        const c = text.charCodeAt(k);
        if (c === QUOTE) break;
        if (c === BACKSLASH || c < 0x20) return false;
      }
      if (k >= to) return false;
      const alias = aliasAt(text, i + 1, k);
      i = skipWhitespace(text, k + 1, to);
      if (text.charCodeAt(i) !== COLON) return false;
      i = skipWhitespace(text, i + 1, to);
      if (alias < 0) {
        if (!scanOtherMembers()) return false;
        const end = valueEnd(text, i, to);
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
          value = Number(text.slice(i, end));
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

/** The rest of scanLine for a line with other members: their text is the properties'. */
function withProperties(text: string, line: number, limits: ValidationLimits, sink: LineSink): boolean {
  let members = text.slice(spans[0], spans[1]);
  for (let s = 2; s < spans.length; s += 2) members += `,${text.slice(spans[s], spans[s + 1])}`;
  const known = lookUp(members);
  if (known !== undefined) {
    const outcome = checkEvent(fieldsInput(undefined), limits);
    if (outcome.ok) sink.event({ ...outcome.event, properties: known.properties, attribution: known.attribution }, line);
    else sink.refuse({ line, code: outcome.code, message: outcome.message });
    return true;
  }
  let properties: unknown;
  try {
    properties = JSON.parse(`{${members}}`);
  } catch {
    return false;
  }
  const outcome = checkEvent(fieldsInput(properties), limits);
  if (!outcome.ok) {
    sink.refuse({ line, code: outcome.code, message: outcome.message });
    return true;
  }
  if (cacheUse.paused === 0 && members.length <= CACHE_KEY_CHARS) {
    if (checkedProperties.size >= CACHE_ENTRIES) checkedProperties.clear();
    checkedProperties.set(members, { properties: outcome.event.properties, attribution: outcome.event.attribution });
  }
  sink.event(outcome.event, line);
  return true;
}
