/**
 * One session as a JSON object, written straight into bytes (json-put.ts):
 * the hot path of `sessions sessionize` output (hundreds of thousands of
 * sessions a second, some 400 bytes each). Fixed text around the values is
 * merged into as few literals as the common cases allow, and a text that
 * repeats in a session (the event name, the channel, an equal end time) is
 * copied rather than written again. Room for the worst case is reserved
 * first, padding included.
 */
import type { SessionRules } from '../sessionizer/types.ts';
import type { ByteWriter } from './byte-writer.ts';
import { literal, MAX_BYTES_PER_CHAR, putAscii, putCopy, putIso, putLiteral, putNumber, putString, type Literal } from './json-put.ts';
import { SESSION_ID_LENGTH, writeSessionId } from './session-id.ts';
import type { Counts, SessionTally } from './session-tally.ts';

const COLON = 58;
const COMMA = 44;
const CLOSE_BRACE = 125;
/** Bytes of everything but the strings and counts, with room to spare (padding of the last word included). */
const FIXED_BYTES = 768;
/** Room per entry of eventCounts or channels besides its key: quotes, colon, comma, a count, padding. */
const ENTRY_BYTES = 40;

const ID = literal('{"id":"');
const ID_END_USER_ID = literal('","userId":');
const ID_KEY = literal('{"id":');
const USER_ID = literal(',"userId":');
const STATUS_STARTED_AT = literal(',"status":"CLOSED","startedAt":');
const ENDED_AT = literal(',"endedAt":');
const DURATION = literal(',"durationSeconds":');
const EVENT_COUNT = literal(',"eventCount":');
/** The most common middle: an instant session of one event. */
const ONE_EVENT = literal(',"durationSeconds":0,"eventCount":1,"eventCounts":{');
const EVENT_COUNTS = literal(',"eventCounts":{');
const NO_CHANNEL = literal('},"topChannel":null,"topChannelCount":null,"channels":{},"totalValue":');
const TOP_CHANNEL = literal('},"topChannel":');
const TOP_CHANNEL_COUNT = literal(',"topChannelCount":');
const CHANNELS = literal(',"channels":{');
const TOTAL_VALUE = literal('},"totalValue":');
/** converted, engaged and bounced by bits 4, 2, 1; with firstEventName's key. */
const FLAGS = [0, 1, 2, 3, 4, 5, 6, 7].map((bits) =>
  literal(`,"converted":${(bits & 4) !== 0},"engaged":${(bits & 2) !== 0},"bounced":${(bits & 1) !== 0},"firstEventName":`),
);
/** The same after a totalValue of 0 (most sessions), the zero included. */
const ZERO_FLAGS = [0, 1, 2, 3, 4, 5, 6, 7].map((bits) =>
  literal(`0,"converted":${(bits & 4) !== 0},"engaged":${(bits & 2) !== 0},"bounced":${(bits & 1) !== 0},"firstEventName":`),
);
const LAST_EVENT_NAME = literal(',"lastEventName":');
const CLOSE_REASON = literal(',"closeReason":');
const INACTIVITY_END = literal(',"closeReason":"INACTIVITY"}');
const MAX_DURATION_END = literal(',"closeReason":"MAX_DURATION"}');
const FLUSH_END = literal(',"closeReason":"FLUSH"}');

function countsRoom(c: Counts): number {
  return 2 + MAX_BYTES_PER_CHAR * c.keyChars + ENTRY_BYTES * c.size;
}

/** a's entry comes before b's in eventCounts: more frequent, then smaller name (the API's order). */
function before(c: Counts, a: number, b: number): boolean {
  const ca = c.countAt(a);
  const cb = c.countAt(b);
  return ca > cb || (ca === cb && c.keyAt(a) < c.keyAt(b));
}

/** Entry order of eventCounts: most frequent first, then by name (the API's order). */
export function byCountThenName(c: Counts): number[] {
  const order: number[] = [];
  for (let i = 0; i < c.size; i++) order.push(i);
  return order.sort((a, b) => c.countAt(b) - c.countAt(a) || (c.keyAt(a) < c.keyAt(b) ? -1 : 1));
}

/**
 * Writes the keys of one session's eventCounts or channels, remembering
 * where the last one went: a key that comes again (the first and last event
 * names, the top channel) is copied rather than written (see putCopy).
 */
class KeyWriter {
  private key: string | null = null;
  private keyAt = 0;
  private keyLength = 0;

  /** Forgets the last key: a new session, maybe in another buffer. */
  reset(): void {
    this.key = null;
  }

  /** `key` as a JSON string. */
  putKey(view: DataView, buf: Buffer, at: number, key: string): number {
    if (key === this.key) return putCopy(view, at, this.keyAt, this.keyLength);
    const end = putString(buf, at, key);
    this.key = key;
    this.keyAt = at;
    this.keyLength = end - at;
    return end;
  }

  /**
   * The entries of `c` with their separators: in the API's order for
   * eventCounts (`ordered`), as first seen for channels. Sessions have a few
   * names: each entry is picked as the best of those left (no array, no sort).
   */
  entries(view: DataView, buf: Buffer, at: number, c: Counts, ordered: boolean): number {
    const n = c.size;
    if (n === 1 || !ordered) {
      for (let i = 0; i < n; i++) at = this.entry(view, buf, at, i === 0, c.keyAt(i), c.countAt(i));
      return at;
    }
    if (n > 30) {
      const order = byCountThenName(c);
      for (let i = 0; i < n; i++) at = this.entry(view, buf, at, i === 0, c.keyAt(order[i] as number), c.countAt(order[i] as number));
      return at;
    }
    let left = n === 30 ? 0x3fffffff : (1 << n) - 1;
    for (let i = 0; left !== 0; i++) {
      let best = -1;
      for (let bits = left; bits !== 0; bits &= bits - 1) {
        const k = 31 - Math.clz32(bits & -bits);
        if (best < 0 || before(c, k, best)) best = k;
      }
      left &= ~(1 << best);
      at = this.entry(view, buf, at, i === 0, c.keyAt(best), c.countAt(best));
    }
    return at;
  }

  /** One entry, with a separator before it unless it is the `first`. */
  entry(view: DataView, buf: Buffer, at: number, first: boolean, key: string, count: number): number {
    if (!first) buf[at++] = COMMA;
    at = this.putKey(view, buf, at, key);
    buf[at++] = COLON;
    return putNumber(view, buf, at, count);
  }
}

const names = new KeyWriter();
const channelKeys = new KeyWriter();

/** Upper bound of the bytes writeSessionJson() takes for `s` (the top channel is one of the channels' keys). */
function roomFor(s: SessionTally, id: string | null): number {
  const strings = s.userId.length + s.firstEventName.length + s.lastEventName.length;
  const names = s.nameCounts === null ? 2 + MAX_BYTES_PER_CHAR * s.firstEventName.length + ENTRY_BYTES : countsRoom(s.nameCounts);
  const channels =
    s.channelCounts !== null ? countsRoom(s.channelCounts)
    : s.firstChannel !== null ? 2 + MAX_BYTES_PER_CHAR * s.firstChannel.length + ENTRY_BYTES
    : 2;
  return FIXED_BYTES + (id?.length ?? SESSION_ID_LENGTH) * MAX_BYTES_PER_CHAR + MAX_BYTES_PER_CHAR * strings + names + 2 * channels;
}

/**
 * Writes one session as a JSON object (no line break), fields in
 * SESSION_COLUMNS order; `id` null: the id derived from the session (session-id.ts).
 */
export function writeSessionJson(w: ByteWriter, s: SessionTally, id: string | null, rules: SessionRules): void {
  const buf = w.room(roomFor(s, id));
  const view = w.view();
  let at = w.length;
  names.reset();
  channelKeys.reset();
  if (id === null) {
    at = putLiteral(view, at, ID);
    at = writeSessionId(view, at, s.userId, s.startedAt);
    at = putLiteral(view, at, ID_END_USER_ID);
  } else {
    at = putLiteral(view, at, ID_KEY);
    at = putString(buf, at, id);
    at = putLiteral(view, at, USER_ID);
  }
  at = putString(buf, at, s.userId);
  at = putLiteral(view, at, STATUS_STARTED_AT);
  const startedAt = at;
  at = putIso(view, buf, at, s.startedAt);
  const isoLength = at - startedAt;
  at = putLiteral(view, at, ENDED_AT);
  // Sessions of one event, or of events at one time: the same text again.
  if (s.endedAt === s.startedAt) at = putCopy(view, at, startedAt, isoLength);
  else at = putIso(view, buf, at, s.endedAt);
  if (s.eventCount === 1) {
    at = putLiteral(view, at, ONE_EVENT);
  } else {
    at = putLiteral(view, at, DURATION);
    at = putNumber(view, buf, at, s.durationMs / 1000);
    at = putLiteral(view, at, EVENT_COUNT);
    at = putNumber(view, buf, at, s.eventCount);
    at = putLiteral(view, at, EVENT_COUNTS);
  }
  const nameCounts = s.nameCounts;
  if (nameCounts === null) at = names.entry(view, buf, at, true, s.firstEventName, s.eventCount);
  else at = names.entries(view, buf, at, nameCounts, true);
  const channelCounts = s.channelCounts;
  if (channelCounts !== null) {
    const top = channelCounts.top();
    at = putLiteral(view, at, TOP_CHANNEL);
    at = channelKeys.putKey(view, buf, at, channelCounts.keyAt(top));
    at = putLiteral(view, at, TOP_CHANNEL_COUNT);
    at = putNumber(view, buf, at, channelCounts.countAt(top));
    at = putLiteral(view, at, CHANNELS);
    at = channelKeys.entries(view, buf, at, channelCounts, false);
    at = putLiteral(view, at, TOTAL_VALUE);
  } else if (s.firstChannel !== null) {
    at = putLiteral(view, at, TOP_CHANNEL);
    at = channelKeys.putKey(view, buf, at, s.firstChannel);
    at = putLiteral(view, at, TOP_CHANNEL_COUNT);
    at = putNumber(view, buf, at, s.firstChannelCount);
    at = putLiteral(view, at, CHANNELS);
    at = channelKeys.entry(view, buf, at, true, s.firstChannel, s.firstChannelCount);
    at = putLiteral(view, at, TOTAL_VALUE);
  } else {
    at = putLiteral(view, at, NO_CHANNEL);
  }
  const flags = (s.converted ? 4 : 0) | (s.engaged(rules) ? 2 : 0) | (s.bounced ? 1 : 0);
  // -0 too: JSON writes it as 0.
  if (s.totalValue === 0) {
    at = putLiteral(view, at, ZERO_FLAGS[flags] as Literal);
  } else {
    at = putNumber(view, buf, at, s.totalValue);
    at = putLiteral(view, at, FLAGS[flags] as Literal);
  }
  at = names.putKey(view, buf, at, s.firstEventName);
  at = putLiteral(view, at, LAST_EVENT_NAME);
  at = names.putKey(view, buf, at, s.lastEventName);
  const reason = s.closeReason;
  if (reason === 'INACTIVITY') {
    at = putLiteral(view, at, INACTIVITY_END);
  } else if (reason === 'MAX_DURATION') {
    at = putLiteral(view, at, MAX_DURATION_END);
  } else if (reason === 'FLUSH') {
    at = putLiteral(view, at, FLUSH_END);
  } else {
    at = putLiteral(view, at, CLOSE_REASON);
    at = s.closeReason === null ? putAscii(buf, at, 'null') : putString(buf, at, s.closeReason);
    buf[at++] = CLOSE_BRACE;
  }
  w.advance(at);
}
