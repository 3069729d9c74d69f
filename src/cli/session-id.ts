/**
 * Session ids of `sessions sessionize` output: a UUID derived from the
 * session's user and start (docs/cli.md, "sessions sessionize"), so the
 * same file gives the same output on every run, and a load of it into a
 * table keyed by id can be repeated without doubling anything.
 *
 * A user has at most one session starting at a given time (a session starts
 * after its predecessor's last event), so (userId, startedAt) names a session
 * within a run. The UUID is an RFC 9562 version 8 ("custom") one:
 * xxxxxxxx-xxxx-8xxx-[89ab]xxx-xxxxxxxxxxxx, lower-case hex. Its first 32
 * bits and bits 80-111 are a bijection of two 32-bit hashes of the user
 * mixed with the start's two halves, so two sessions of one user never
 * share an id, and sessions of two users do only when both hashes of the
 * users collide as well (about 2^-64 per pair). It is not a secret: anyone
 * can derive it from the session.
 */

const TWO_32 = 4_294_967_296;

/** MurmurHash3's 32-bit finalizer: a bijection that spreads every input bit over the output. */
function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/** Two lower-case hex digits (ASCII) per byte value. */
const HEX_DIGITS = new Uint8Array(512);
for (let b = 0; b < 256; b++) {
  const text = b.toString(16).padStart(2, '0');
  HEX_DIGITS[2 * b] = text.charCodeAt(0);
  HEX_DIGITS[2 * b + 1] = text.charCodeAt(1);
}
const DASH = 0x2d;

/** The low `bytes` (2 or 4) bytes of w as hex at p, most significant first; returns the position after them. */
function hex(buf: Uint8Array, p: number, w: number, bytes: 2 | 4): number {
  for (let shift = bytes * 8 - 8; shift >= 0; shift -= 8) {
    const b = (w >>> shift) & 255;
    buf[p++] = HEX_DIGITS[2 * b] as number;
    buf[p++] = HEX_DIGITS[2 * b + 1] as number;
  }
  return p;
}

/**
 * Writes the id of the session of `userId` starting at `startedAt` (ms) as
 * 36 ASCII bytes at `p` (the output writer puts it straight into its
 * buffer); returns the position after it.
 */
export function writeSessionId(buf: Uint8Array, p: number, userId: string, startedAt: number): number {
  // Two independent hashes of the user's UTF-16 code units (FNV-1a and a multiply-xorshift).
  let a = 0x811c9dc5 | 0;
  let b = 0x9e3779b9 ^ userId.length;
  for (let i = 0; i < userId.length; i++) {
    const c = userId.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
    b ^= b >>> 15;
  }
  const hi = Math.floor(startedAt / TWO_32);
  const lo = startedAt - hi * TWO_32;
  // (x, y) -> (w0, w1) is invertible (a two-round Feistel network): distinct
  // (a ^ lo, b ^ hi) give distinct (w0, w1), and both go into the id whole.
  const x = fmix(a ^ lo);
  const y = fmix(b ^ hi);
  const w0 = fmix(x ^ Math.imul(y, 0x27d4eb2f));
  const w1 = fmix(y ^ Math.imul(w0, 0x165667b1));
  const w2 = fmix(w0 ^ w1 ^ 0x61c88647);
  p = hex(buf, p, w0, 4);
  buf[p++] = DASH;
  p = hex(buf, p, w2 >>> 16, 2);
  buf[p++] = DASH;
  p = hex(buf, p, 0x8000 | (w2 & 0x0fff), 2); // version 8
  buf[p++] = DASH;
  p = hex(buf, p, 0x8000 | ((w2 >>> 12) & 0x3fff), 2); // variant 10
  buf[p++] = DASH;
  p = hex(buf, p, w1, 4);
  return hex(buf, p, fmix(w1 ^ w2), 2);
}

const scratch = new Uint8Array(36);

/** The id of the session of `userId` starting at `startedAt` (ms), as text. */
export function sessionId(userId: string, startedAt: number): string {
  writeSessionId(scratch, 0, userId, startedAt);
  return String.fromCharCode(...scratch);
}
