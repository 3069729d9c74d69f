/**
 * Event ids for lines that carry none (docs/cli.md, "Event ids").
 *
 *   line:<line number, 12 digits>:<16 hex digits>
 *
 * The hex part is a 64-bit hash of the source name and the line's text, so a
 * re-run of the same input (a retry, or the same file ingested again) yields
 * the same ids and the service counts duplicates instead of new events, while
 * two identical lines at different line numbers stay two events, and an edited
 * line becomes a new event. The zero-padded line number comes first so that
 * events with equal timestamps are ordered as in the file: the core orders by
 * (timestamp, eventId) with plain string comparison.
 *
 * The hash is cyrb53's two 32-bit multiply-xorshift lanes (64 bits kept), not
 * SHA-256: it costs a tenth as much, which matters at a million lines a
 * second, and it needs no collision resistance against an adversary (two ids
 * can only collide for the same source and line number).
 */

/** The hash state after the source name: computed once per input. */
export interface IdSource {
  readonly name: string;
  readonly h1: number;
  readonly h2: number;
}

/** Prefix of every derived id. */
export const DERIVED_ID_PREFIX = 'line:';
const LINE_DIGITS = 12;

/** The id source for an input named `name` (a file's base name, or "stdin", or --source). */
export function idSource(name: string): IdSource {
  const [h1, h2] = mix(0xdeadbeef, 0x41c6ce57, `${name}\n`);
  return { name, h1, h2 };
}

function mix(h1: number, h2: number, text: string): [number, number] {
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2_654_435_761);
    h2 = Math.imul(h2 ^ ch, 1_597_334_677);
  }
  return [h1, h2];
}

const ZEROS = '0'.repeat(LINE_DIGITS);

function hex8(n: number): string {
  const s = (n >>> 0).toString(16);
  return s.length === 8 ? s : ZEROS.slice(0, 8 - s.length) + s;
}

/** The 16 hex digits for `text` (UTF-16 code units) after the source. */
export function lineHash(source: IdSource, text: string): string {
  let h1 = source.h1;
  let h2 = source.h2;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2_654_435_761);
    h2 = Math.imul(h2 ^ ch, 1_597_334_677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2_246_822_507);
  h1 ^= Math.imul(h2 ^ (h2 >>> 13), 3_266_489_909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2_246_822_507);
  h2 ^= Math.imul(h1 ^ (h1 >>> 13), 3_266_489_909);
  return hex8(h2) + hex8(h1);
}

function paddedLine(lineNo: number): string {
  const n = String(lineNo);
  return n.length >= LINE_DIGITS ? n : ZEROS.slice(0, LINE_DIGITS - n.length) + n;
}

/** The derived id of line `lineNo` (1-based) whose text (without the line break) is `text`. */
export function deriveEventId(source: IdSource, lineNo: number, text: string): string {
  return `${DERIVED_ID_PREFIX}${paddedLine(lineNo)}:${lineHash(source, text)}`;
}

/**
 * `line:<line number, 12 digits>`: the start of every derived id of that
 * line. `sessions sessionize` orders a line without an eventId by this (its
 * ids never leave the process): against another such line the line numbers
 * decide, exactly as the full ids would; against an explicit id the prefix
 * compares as the full id does (unless that id itself starts with it).
 */
export function lineIdPrefix(lineNo: number): string {
  return `${DERIVED_ID_PREFIX}${paddedLine(lineNo)}`;
}
