/** JSON tokens read from bytes: the small pieces of the byte scanner (byte-scanner.ts). */

export const QUOTE = 34;
export const BACKSLASH = 92;
export const COMMA = 44;
export const COLON = 58;
export const SPACE = 32;
export const TAB = 9;
export const OPEN_BRACE = 123;
export const CLOSE_BRACE = 125;
export const MINUS = 45;
/** Bytes below this are control characters, which a JSON string may not hold raw. */
export const FIRST_PRINTABLE = 0x20;

/** End of the string whose content starts at i (its closing quote), or -1 for an escape, a raw control byte or no quote. */
export function stringEnd(buf: Buffer, i: number, end: number): number {
  for (; i < end; i++) {
    const c = buf[i] as number;
    if (c === QUOTE) return i;
    if (c === BACKSLASH || c < FIRST_PRINTABLE) return -1;
  }
  return -1;
}

export function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

export function skipSpace(buf: Buffer, i: number, end: number): number {
  while (i < end) {
    const c = buf[i];
    if (c !== SPACE && c !== TAB) break;
    i++;
  }
  return i;
}

/** The ASCII `word` is at buf[i..]. */
export function matches(buf: Buffer, i: number, end: number, word: string): boolean {
  if (i + word.length > end) return false;
  for (let k = 0; k < word.length; k++) if (buf[i + k] !== word.charCodeAt(k)) return false;
  return true;
}

/** End of the JSON number at i, or -1 when the grammar is not met. */
export function numberEnd(buf: Buffer, i: number, end: number): number {
  const at = (k: number): number => (k < end ? (buf[k] as number) : -1);
  if (at(i) === MINUS) i++;
  if (at(i) === 48) i++;
  else if (isDigit(at(i))) while (isDigit(at(i))) i++;
  else return -1;
  if (at(i) === 46) {
    i++;
    if (!isDigit(at(i))) return -1;
    while (isDigit(at(i))) i++;
  }
  const e = at(i);
  if (e === 101 || e === 69) {
    i++;
    if (at(i) === 43 || at(i) === MINUS) i++;
    if (!isDigit(at(i))) return -1;
    while (isDigit(at(i))) i++;
  }
  return i;
}

/**
 * First byte of an id or name that is surely not blank: printable ASCII
 * other than a space (the field mapping's quick test; anything else, it
 * decides with trim()).
 */
export function surelyNotBlank(c: number): boolean {
  return c > SPACE && c < 127;
}
