/**
 * The write key of a Segment request: HTTP Basic with the key as user name
 * (what the SDKs send), a bearer key, or `writeKey` in the body. It must be
 * an ingest key once keys are configured (INGEST_API_KEYS, ADMIN_API_KEYS).
 */
import { roleError, type Authenticator } from '../../graphql/auth.ts';
import { ErrorCode } from '../../graphql/errors.ts';

/** The key in an Authorization header: Basic user name, or bearer key; null when none. */
export function headerKey(authorization: unknown): string | null {
  if (typeof authorization !== 'string') return null;
  const basic = /^Basic\s+(\S+)$/i.exec(authorization.trim());
  if (basic !== null) {
    const decoded = Buffer.from(basic[1] ?? '', 'base64').toString('utf8');
    const user = decoded.includes(':') ? decoded.slice(0, decoded.indexOf(':')) : decoded;
    return user === '' ? null : user;
  }
  const bearer = /^Bearer\s+(.+)$/i.exec(authorization.trim());
  return bearer?.[1] ?? null;
}

/** Why a request may not ingest (401 no valid key, 403 a key without the ingest role), or null. */
export function writeKeyError(
  authenticator: Authenticator,
  authorization: unknown,
  bodyWriteKey: unknown,
): { status: 401 | 403; code: string; message: string } | null {
  if (authenticator.open) return null;
  const key = headerKey(authorization) ?? (typeof bodyWriteKey === 'string' && bodyWriteKey !== '' ? bodyWriteKey : null);
  const error = roleError(key === null ? { kind: 'anonymous' } : authenticator.identify(`Bearer ${key}`), 'ingest');
  if (error === null) return null;
  const code = error.extensions['code'] as string;
  return code === ErrorCode.Forbidden
    ? { status: 403, code, message: 'this write key does not have the ingest role' }
    : { status: 401, code, message: 'a valid write key is required (HTTP Basic user name, Bearer, or writeKey in the body)' };
}
