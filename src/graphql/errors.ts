import { GraphQLError } from 'graphql';

/** Public error codes (GraphQL `extensions.code`). One list for the whole API. */
export enum ErrorCode {
  BadUserInput = 'BAD_USER_INPUT',
  /** The HTTP request itself is unusable (malformed JSON body, unsupported encoding). */
  BadRequest = 'BAD_REQUEST',
  /** The HTTP request body is over BODY_LIMIT_BYTES. */
  PayloadTooLarge = 'PAYLOAD_TOO_LARGE',
  NotFound = 'NOT_FOUND',
  BatchTooLarge = 'BATCH_TOO_LARGE',
  InvalidCursor = 'INVALID_CURSOR',
  InvalidTimeZone = 'INVALID_TIME_ZONE',
  InvalidRange = 'INVALID_RANGE',
  Unauthenticated = 'UNAUTHENTICATED',
  Forbidden = 'FORBIDDEN',
  Unavailable = 'SERVICE_UNAVAILABLE',
  ShuttingDown = 'SHUTTING_DOWN',
  /** A query ran past QUERY_TIMEOUT and was cancelled. */
  QueryTimeout = 'QUERY_TIMEOUT',
  /** sessionClosed(after:) would replay more than REPLAY_MAX_CLOSURES closures. */
  CursorTooOld = 'CURSOR_TOO_OLD',
  /** The process already holds WS_MAX_CONNECTIONS WebSockets. */
  TooManyConnections = 'TOO_MANY_CONNECTIONS',
  Internal = 'INTERNAL_SERVER_ERROR',
}

/** Codes of per-event rejections in IngestResult.rejected. */
export enum RejectCode {
  MissingField = 'MISSING_FIELD',
  InvalidTimestamp = 'INVALID_TIMESTAMP',
  FutureTimestamp = 'FUTURE_TIMESTAMP',
  ValueNotFinite = 'VALUE_NOT_FINITE',
  ValueOutOfRange = 'VALUE_OUT_OF_RANGE',
  FieldTooLong = 'FIELD_TOO_LONG',
  InvalidField = 'INVALID_FIELD',
  PropertiesTooLarge = 'PROPERTIES_TOO_LARGE',
}

/** An expected failure shown to the client with its code and message. */
export class ServiceError extends GraphQLError {
  constructor(code: ErrorCode, message: string, extra: Record<string, unknown> = {}) {
    super(message, { extensions: { code, ...extra } });
  }
}

/** True for errors whose message is meant for clients (everything else is masked). */
export function isPublicError(error: unknown): boolean {
  return error instanceof ServiceError;
}
