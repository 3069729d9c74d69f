import { getOperationAST, parse } from 'graphql';
import { describe, expect, it } from 'vitest';
import { createAuthenticator, createKeyCheck, requireRole, roleError, type Caller } from '../../src/graphql/auth.ts';
import { usesIntrospection } from '../../src/graphql/introspection-access.ts';

const KEYS = { ingest: ['i1', 'i2'], read: ['r1', 'r2'], admin: ['a1'] };

const codeOf = (caller: Caller, role: 'ingest' | 'read' | 'admin') => roleError(caller, role)?.extensions['code'] ?? 'ok';

describe('createAuthenticator', () => {
  it('is open, with every role, when no key is configured', () => {
    const auth = createAuthenticator({ ingest: [], read: [], admin: [] });
    expect(auth.open).toBe(true);
    const caller = auth.identify(undefined);
    expect(caller).toEqual({ kind: 'open' });
    for (const role of ['ingest', 'read', 'admin'] as const) expect(() => requireRole(caller, role)).not.toThrow();
  });

  it('accepts every configured key of a role (rotation), with or without the Bearer scheme', () => {
    const auth = createAuthenticator(KEYS);
    expect(auth.open).toBe(false);
    for (const header of ['Bearer i1', 'Bearer i2', 'bearer i1', 'BEARER   i2', '  Bearer i1  ', 'i1']) {
      expect(auth.identify(header), header).toEqual({ kind: 'key', roles: new Set(['ingest']) });
    }
    expect(auth.identify('Bearer r2')).toEqual({ kind: 'key', roles: new Set(['read']) });
    expect(auth.identify('Bearer a1')).toEqual({ kind: 'key', roles: new Set(['admin']) });
  });

  it('treats a missing, malformed or unknown key as anonymous', () => {
    const auth = createAuthenticator(KEYS);
    for (const header of [undefined, null, 42, ['Bearer i1'], '', 'Bearer ', 'Bearer i3', 'Basic aTE6', 'Bearer i1 extra', 'Bearer I1', 'x'.repeat(100_000)]) {
      expect(auth.identify(header), String(header).slice(0, 20)).toEqual({ kind: 'anonymous' });
    }
  });

  it('gives a key listed under several roles all of them', () => {
    const auth = createAuthenticator({ ingest: ['shared'], read: ['shared'], admin: [] });
    expect(auth.identify('Bearer shared')).toEqual({ kind: 'key', roles: new Set(['ingest', 'read']) });
  });
});

describe('roles', () => {
  const auth = createAuthenticator(KEYS);

  it('answers UNAUTHENTICATED without a valid key and FORBIDDEN for the wrong role', () => {
    const anonymous = auth.identify(undefined);
    expect(codeOf(anonymous, 'read')).toBe('UNAUTHENTICATED');
    expect(codeOf(anonymous, 'ingest')).toBe('UNAUTHENTICATED');
    const ingest = auth.identify('Bearer i1');
    expect([codeOf(ingest, 'ingest'), codeOf(ingest, 'read'), codeOf(ingest, 'admin')]).toEqual(['ok', 'FORBIDDEN', 'FORBIDDEN']);
    const read = auth.identify('Bearer r1');
    expect([codeOf(read, 'ingest'), codeOf(read, 'read'), codeOf(read, 'admin')]).toEqual(['FORBIDDEN', 'ok', 'FORBIDDEN']);
  });

  it('lets admin do everything', () => {
    const admin = auth.identify('Bearer a1');
    for (const role of ['ingest', 'read', 'admin'] as const) expect(codeOf(admin, role)).toBe('ok');
  });

  it('never shows a key in an error message', () => {
    const error = roleError(auth.identify('Bearer i1'), 'read');
    expect(error?.message).not.toContain('i1');
  });
});

describe('createKeyCheck (GET /metrics)', () => {
  it('allows everyone without keys and only the listed keys otherwise', () => {
    expect(createKeyCheck([])(undefined)).toBe(true);
    const check = createKeyCheck(['m1', 'm2']);
    expect([check('Bearer m1'), check('Bearer m2'), check('Bearer m3'), check(undefined)]).toEqual([true, true, false, false]);
  });
});

describe('usesIntrospection', () => {
  const uses = (source: string) => {
    const document = parse(source);
    const operation = getOperationAST(document);
    if (!operation) throw new Error('no operation');
    return usesIntrospection(document, operation);
  };

  it('finds __schema and __type at any depth, through inline and named fragments', () => {
    expect(uses('{ __schema { types { name } } }')).toBe(true);
    expect(uses('{ __type(name: "Session") { name } }')).toBe(true);
    expect(uses('{ ... on Query { __schema { queryType { name } } } }')).toBe(true);
    expect(uses('query { ...A } fragment A on Query { ...B } fragment B on Query { __type(name: "X") { name } }')).toBe(true);
    expect(uses('{ sessions { nodes { __typename id } } }')).toBe(false);
    expect(uses('{ __typename }')).toBe(false);
  });

  it('terminates on fragment cycles (invalid documents are refused later by validation)', () => {
    expect(uses('query { ...A } fragment A on Query { ...B } fragment B on Query { ...A }')).toBe(false);
    expect(uses('query { ...Missing }')).toBe(false);
  });
});
