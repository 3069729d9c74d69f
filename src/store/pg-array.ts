/** A value of a one-dimensional Postgres array parameter. */
export type ArrayElement = string | number | boolean | null;

const NEEDS_ESCAPE = /["\\]/;
const ESCAPE = /["\\]/g;

/**
 * Encodes values as a Postgres array literal (`{1,NULL,"a\"b"}`), to be passed
 * as ONE text parameter and cast in SQL (`$1::text[]`, `$2::bigint[]`).
 *
 * Why not pass the JS array: Prisma's raw-query path serializes every element
 * of an array parameter for its query interpreter, which cost about 40% of a
 * 3,000-row session write here; one string per column skips that, and
 * Postgres parses the literal exactly as it parses what pg would have sent.
 * Numbers must be finite (validated at the edge); every string is quoted, so
 * `NULL`, empty strings, braces and commas inside values stay values.
 */
export function pgArray(values: readonly ArrayElement[]): string {
  const parts = new Array<string>(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v === null || v === undefined) parts[i] = 'NULL';
    else if (typeof v === 'string') parts[i] = NEEDS_ESCAPE.test(v) ? `"${v.replace(ESCAPE, '\\$&')}"` : `"${v}"`;
    else parts[i] = String(v);
  }
  return `{${parts.join(',')}}`;
}
