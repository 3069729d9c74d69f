/**
 * Random (version 4) UUIDs for `sessions sessionize` output, written as
 * bytes straight into the output: the same format and randomness source as
 * crypto.randomUUID(), without a string per session.
 */
import { randomFillSync } from 'node:crypto';

/** Ids drawn from one fill of the random pool. */
const BATCH = 1_024;
const BYTES = 16;
/** Length of the text form. */
export const UUID_LENGTH = 36;
const HEX = Buffer.from('0123456789abcdef', 'latin1');
const DASH = 45;

const pool = Buffer.alloc(BYTES * BATCH);
let used = BATCH;

/** Writes a random UUID (lower-case hex, xxxxxxxx-xxxx-4xxx-[89ab]xxx-xxxxxxxxxxxx) at `at`; returns the end. */
export function writeRandomUuid(buf: Uint8Array, at: number): number {
  if (used === BATCH) {
    randomFillSync(pool);
    used = 0;
  }
  const from = BYTES * used++;
  for (let i = 0; i < BYTES; i++) {
    let b = pool[from + i] as number;
    if (i === 6) b = (b & 0x0f) | 0x40; // version 4
    else if (i === 8) b = (b & 0x3f) | 0x80; // variant 10
    buf[at++] = HEX[b >> 4] as number;
    buf[at++] = HEX[b & 0x0f] as number;
    if (i === 3 || i === 5 || i === 7 || i === 9) buf[at++] = DASH;
  }
  return at;
}

/** A random UUID as text. */
export function randomUuid(): string {
  const text = Buffer.alloc(UUID_LENGTH);
  writeRandomUuid(text, 0);
  return text.toString('latin1');
}
