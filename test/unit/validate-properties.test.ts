/**
 * checkEvent's judgement of `properties` (src/ingest/validate.ts), shared by
 * the API, the Segment endpoints and the command line: the canonical text,
 * the nesting limit, unstorable text (NUL, unpaired surrogates) in keys and
 * strings at any depth, and the byte limit, against a plain recursive
 * reference written here from the rules (docs: DESIGN.md, "Validation").
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkEvent, MAX_PROPERTIES_DEPTH, type EventInput } from '../../src/ingest/validate.ts';

const LIMITS = { nowMs: Date.parse('2030-01-01T00:00:00Z'), maxFutureSkewMs: 0, maxPropertiesBytes: 2_000 };

function input(properties: unknown): EventInput {
  return { userId: 'u', name: 'view', timestamp: Date.parse('2026-01-01T00:00:00Z'), eventId: null, channelId: null, value: null, properties };
}

/** Text Postgres cannot store: a NUL, or a surrogate that is not half of a pair. */
function unstorableText(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0) return true;
    if (c >= 0xd800 && c <= 0xdbff) {
      const next = s.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) i++;
      else return true;
    } else if (c >= 0xdc00 && c <= 0xdfff) return true;
  }
  return false;
}

/** Reference: depth of objects and arrays, and whether a key or string anywhere is unstorable. */
function reference(v: unknown): { depth: number; unstorable: boolean } {
  if (typeof v === 'string') return { depth: 0, unstorable: unstorableText(v) };
  if (v === null || typeof v !== 'object') return { depth: 0, unstorable: false };
  let depth = 0;
  let unstorable = false;
  for (const [key, child] of Object.entries(v)) {
    const r = reference(child);
    depth = Math.max(depth, r.depth);
    unstorable ||= r.unstorable || unstorableText(key);
  }
  return { depth: depth + 1, unstorable };
}

function nest(depth: number): unknown {
  let v: unknown = 'leaf';
  for (let i = 0; i < depth; i++) v = i % 2 === 0 ? [v] : { k: v };
  return v;
}

describe('checkEvent properties', () => {
  it('stores the JSON text of what was sent', () => {
    const outcome = checkEvent(input({ page: { path: '/p', title: 'Café "5" ü 😀' }, tags: ['a'], n: 1.5, none: null }), LIMITS);
    expect(outcome).toMatchObject({ ok: true, event: { properties: '{"page":{"path":"/p","title":"Café \\"5\\" ü 😀"},"tags":["a"],"n":1.5,"none":null}' } });
  });

  it('accepts nesting up to the limit and refuses one level more', () => {
    expect(checkEvent(input(nest(MAX_PROPERTIES_DEPTH)), LIMITS).ok).toBe(true);
    expect(checkEvent(input(nest(MAX_PROPERTIES_DEPTH + 1)), LIMITS)).toMatchObject({ ok: false, code: 'PROPERTIES_TOO_LARGE' });
    // Deeper than JSON.stringify itself can go: refused the same way, not thrown.
    expect(checkEvent(input(nest(200_000)), LIMITS)).toMatchObject({
      ok: false,
      code: 'PROPERTIES_TOO_LARGE',
      message: `properties are nested deeper than ${MAX_PROPERTIES_DEPTH} levels`,
    });
  });

  it('refuses NUL and unpaired surrogates in keys and strings at any depth, and only those', () => {
    const refused = [{ a: 'x\u0000' }, { 'k\u0000': 1 }, { a: [{ b: '\ud800' }] }, ['\udc00x'], { a: { '\udbff': true } }, 'lone \ud83d'];
    for (const p of refused) expect(checkEvent(input(p), LIMITS)).toMatchObject({ ok: false, code: 'INVALID_FIELD' });
    // The six characters \u0000 and \ud800 as text, a paired surrogate and other control characters are stored.
    const kept = [{ a: '\\u0000' }, { '\\ud800': '\\\\u0000' }, { a: '😀' }, { a: '\u0001\u001f\t' }];
    for (const p of kept) expect(checkEvent(input(p), LIMITS).ok).toBe(true);
  });

  it('refuses properties over the byte limit, counted in UTF-8', () => {
    expect(checkEvent(input({ a: 'x'.repeat(2_000 - 8) }), LIMITS).ok).toBe(true); // {"a":"…"} is 2,000 bytes
    expect(checkEvent(input({ a: 'x'.repeat(2_000 - 7) }), LIMITS)).toMatchObject({ ok: false, code: 'PROPERTIES_TOO_LARGE' });
    expect(checkEvent(input({ a: 'é'.repeat(1_000) }), LIMITS)).toMatchObject({ ok: false, code: 'PROPERTIES_TOO_LARGE' });
  });

  it('agrees with the reference on random documents', () => {
    const text = fc.string({ unit: fc.oneof(fc.constantFrom('\u0000', '\ud800', '\udc00', '\\', '"', 'u', '0', 'd'), fc.string({ unit: 'binary', maxLength: 1 })), maxLength: 6 });
    const { tree } = fc.letrec((tie) => ({
      tree: fc.oneof({ depthSize: 'small', withCrossShrink: true }, text, fc.integer(), fc.constant(null), tie('array'), tie('object')),
      array: fc.array(tie('tree'), { maxLength: 3 }),
      object: fc.dictionary(text, tie('tree'), { maxKeys: 3 }),
    }));
    const deep = fc.tuple(tree, fc.integer({ min: 25, max: 40 })).map(([leaf, depth]) => {
      let v = leaf;
      for (let i = 0; i < depth; i++) v = { k: v };
      return v;
    });
    fc.assert(
      fc.property(fc.oneof(tree, deep), (p) => {
        const r = reference(p);
        const outcome = checkEvent(input(p), { ...LIMITS, maxPropertiesBytes: 1_000_000 });
        if (r.depth > MAX_PROPERTIES_DEPTH) expect(outcome).toMatchObject({ ok: false, code: 'PROPERTIES_TOO_LARGE' });
        else if (r.unstorable) expect(outcome).toMatchObject({ ok: false, code: 'INVALID_FIELD' });
        else expect(outcome).toMatchObject({ ok: true, event: { properties: p === null ? null : JSON.stringify(p) } }); // null: none sent
      }),
      { numRuns: 2_000 },
    );
  });
});
