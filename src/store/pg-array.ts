/** A value of a one-dimensional Postgres array parameter. */
export type ArrayElement = string | number | boolean | null;

/**
 * Elements Postgres reads back unchanged without quotes: not empty, none of
 * `{ } , " \` or white space (the rule of its own array output).
 */
const BARE = /^[^{}",\\\s]+$/;
const NULL_WORD = /^null$/i;
const ESCAPE = /["\\]/g;

/**
 * Encodes values as a Postgres array literal (`{1,NULL,a,"b c","d\"e"}`), to
 * be passed as ONE text parameter and cast in SQL (`$1::text[]`,
 * `$2::bigint[]`).
 *
 * Why not pass the JS array: Prisma's raw-query path turns every parameter
 * into JSON and back, element by element, which cost about 40% of a
 * 3,000-row session write here; one string per column skips that. Elements
 * are quoted only when Postgres needs it, which keeps the string (and
 * Prisma's JSON escaping of it) short. Numbers must be finite (validated at
 * the edge).
 */
export function pgArray(values: readonly ArrayElement[]): string {
  let out = '{';
  for (let i = 0; i < values.length; i++) {
    if (i > 0) out += ',';
    const v = values[i];
    if (v === null || v === undefined) out += 'NULL';
    else if (typeof v !== 'string') out += String(v);
    else if (BARE.test(v) && !NULL_WORD.test(v)) out += v;
    else out += `"${v.replace(ESCAPE, '\\$&')}"`;
  }
  return `${out}}`;
}
