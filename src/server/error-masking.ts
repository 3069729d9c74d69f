import { unwrapResolverError } from '@apollo/server/errors';
import type { GraphQLError, GraphQLFormattedError } from 'graphql';
import { ErrorCode, isPublicError } from '../graphql/errors.ts';
import { withoutSuggestions } from '../graphql/limits.ts';
import { invalidValueMessage, isDatabaseUnavailable, isQueryTimeout } from './database-errors.ts';

/** Codes graphql-js and Apollo give to request errors that are safe to show as they are. */
const REQUEST_ERROR_CODES = new Set([
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_USER_INPUT',
  'BAD_REQUEST',
  'OPERATION_RESOLUTION_FAILURE',
  'PERSISTED_QUERY_NOT_FOUND',
  'PERSISTED_QUERY_NOT_SUPPORTED',
]);

/**
 * True when the error or one it wraps is a coded service error. Apollo wraps
 * errors that are not GraphQLErrors of its own copy of graphql-js (as under
 * vitest, which loads graphql's ESM build for our code), so look through
 * `originalError` rather than trust the first level.
 */
function isServiceError(error: unknown): boolean {
  for (let current = error, depth = 0; typeof current === 'object' && current !== null && depth < 5; depth++) {
    if (isPublicError(current)) return true;
    current = (current as { originalError?: unknown }).originalError;
  }
  return false;
}

/**
 * Codes only this service's own errors carry (ErrorCode, INTERNAL_SERVER_ERROR
 * aside): an error with one of them was made on purpose, even when it is not
 * a ServiceError instance (the WebSocket checks build theirs with the
 * CommonJS copy of graphql-js that graphql-ws uses).
 */
const SERVICE_CODES: ReadonlySet<string> = new Set<string>(Object.values(ErrorCode).filter((code) => code !== ErrorCode.Internal));

/** Errors shown to clients as they are: coded service errors and request errors. */
export function isShown(error: unknown, code: unknown): boolean {
  return isServiceError(error) || (typeof code === 'string' && (REQUEST_ERROR_CODES.has(code) || SERVICE_CODES.has(code)));
}

/**
 * Masks unexpected errors: clients see INTERNAL_SERVER_ERROR (or
 * SERVICE_UNAVAILABLE when the database is unreachable, QUERY_TIMEOUT when a
 * query ran past its statement timeout); the server log gets
 * the whole error. Coded service errors and request errors pass through,
 * without schema hints ("Did you mean"). Apollo's `formatError` signature;
 * the WebSocket side uses {@link maskError}.
 */
export function formatError(formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError {
  const path = formatted.path ? { path: formatted.path } : {};
  if (isShown(error, formatted.extensions?.['code'])) {
    const { stacktrace: _stack, ...extensions } = formatted.extensions ?? {};
    return { ...formatted, message: withoutSuggestions(formatted.message), extensions };
  }
  if (isQueryTimeout(unwrapResolverError(error))) {
    return {
      message: 'the query ran longer than QUERY_TIMEOUT and was cancelled; narrow its range or retry later',
      extensions: { code: ErrorCode.QueryTimeout },
      ...path,
    };
  }
  const invalid = invalidValueMessage(unwrapResolverError(error));
  if (invalid !== null) {
    return { message: `an argument holds a value the database cannot take: ${invalid}`, extensions: { code: 'BAD_USER_INPUT' }, ...path };
  }
  if (isApolloRequestError(error)) {
    const { stacktrace: _stack, http: _http, ...extensions } = formatted.extensions ?? {};
    return { ...formatted, extensions: { ...extensions, code: 'BAD_REQUEST' } };
  }
  if (isDatabaseUnavailable(unwrapResolverError(error))) {
    return { message: 'the database is unavailable; retry later', extensions: { code: ErrorCode.Unavailable }, ...path };
  }
  return { message: 'Internal server error', extensions: { code: ErrorCode.Internal }, ...path };
}

/**
 * An error Apollo's request pipeline answers with a 4xx status and no code
 * (a persisted query whose hash does not match its text): the request's
 * fault, shown as BAD_REQUEST. Nothing of ours sets an HTTP status without
 * a code.
 */
function isApolloRequestError(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { extensions, originalError } = error as { extensions?: Record<string, unknown>; originalError?: unknown };
  const status = (extensions?.['http'] as { status?: unknown } | undefined)?.status;
  return originalError == null && extensions?.['code'] === undefined && typeof status === 'number' && status >= 400 && status < 500;
}

/** {@link formatError} for one GraphQLError (graphql-ws results); `hidden` hears the errors masked. */
export function maskError(error: GraphQLError, hidden: (error: GraphQLError) => void): GraphQLFormattedError {
  const formatted = formatError(error.toJSON(), error);
  if (!isShown(error, error.extensions['code'])) hidden(error);
  return formatted;
}
