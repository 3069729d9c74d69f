import { createHash, timingSafeEqual } from 'node:crypto';
import { ErrorCode, ServiceError } from './errors.ts';

/** What a caller may do. Admin implies ingest and read. */
export type Role = 'ingest' | 'read' | 'admin';

/** Who is calling, decided once per request or WebSocket connection. */
export type Caller =
  | { readonly kind: 'open' } // no keys configured: development mode
  | { readonly kind: 'anonymous' }
  | { readonly kind: 'key'; readonly roles: ReadonlySet<Role> };

/** Keys per role, as configured. */
export interface ApiKeys {
  readonly ingest: readonly string[];
  readonly read: readonly string[];
  readonly admin: readonly string[];
}

const digest = (text: string): Buffer => createHash('sha256').update(text).digest();

/** The key in `Authorization: Bearer <key>` (or a bare key); null when there is none. */
function presentedKey(authorization: unknown): string | null {
  if (typeof authorization !== 'string') return null;
  const text = authorization.trim();
  const key = /^Bearer\s+(.+)$/i.exec(text)?.[1] ?? text;
  return key === '' ? null : key;
}

/**
 * A table of keys, each with a label. Keys are hashed once; a presented key is
 * hashed and compared against every entry in constant time (no early exit), so
 * neither the position nor the length of a match shows in the timing.
 */
function keyTable<T>(entries: ReadonlyArray<{ readonly key: string; readonly label: T }>) {
  const table = entries.map(({ key, label }) => ({ label, hash: digest(key) }));
  return {
    size: table.length,
    /** Labels of every entry whose key equals the presented one. */
    match(authorization: unknown): T[] {
      const key = presentedKey(authorization);
      if (key === null) return [];
      const presented = digest(key);
      const labels: T[] = [];
      for (const entry of table) if (timingSafeEqual(entry.hash, presented)) labels.push(entry.label);
      return labels;
    },
  };
}

/** Identifies callers from their bearer key; `open` when no key is configured at all. */
export interface Authenticator {
  readonly open: boolean;
  identify(authorization: unknown): Caller;
}

/**
 * Builds the authenticator over every role's keys. Several keys per role may
 * be valid at once (rotation); a key listed under several roles has them all.
 */
export function createAuthenticator(keys: ApiKeys): Authenticator {
  const table = keyTable((['ingest', 'read', 'admin'] as const).flatMap((role) => keys[role].map((key) => ({ key, label: role }))));
  const open = table.size === 0;
  return {
    open,
    identify(authorization) {
      if (open) return { kind: 'open' };
      const roles = new Set<Role>(table.match(authorization));
      return roles.size === 0 ? { kind: 'anonymous' } : { kind: 'key', roles };
    },
  };
}

/**
 * Access to a resource guarded by one list of keys (GET /metrics): always
 * allowed when the list is empty.
 */
export function createKeyCheck(keys: readonly string[]): (authorization: unknown) => boolean {
  const table = keyTable(keys.map((key) => ({ key, label: true })));
  return (authorization) => table.size === 0 || table.match(authorization).length > 0;
}

/** The error for a caller lacking `role`: UNAUTHENTICATED (no valid key) or FORBIDDEN (valid key, wrong role); null when allowed. */
export function roleError(caller: Caller, role: Role): ServiceError | null {
  switch (caller.kind) {
    case 'open':
      return null;
    case 'anonymous':
      return new ServiceError(ErrorCode.Unauthenticated, 'a valid API key is required (Authorization: Bearer <key>)');
    case 'key':
      if (caller.roles.has(role) || caller.roles.has('admin')) return null;
      return new ServiceError(ErrorCode.Forbidden, `this API key does not have the ${role} role`);
    default:
      throw new Error(`unknown caller ${JSON.stringify(caller satisfies never)}`);
  }
}

/** Throws UNAUTHENTICATED (no valid key) or FORBIDDEN (valid key, wrong role). */
export function requireRole(caller: Caller, role: Role): void {
  const error = roleError(caller, role);
  if (error !== null) throw error;
}
