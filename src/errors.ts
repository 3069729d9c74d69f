/**
 * The service's public error codes, below every API layer: validation, the
 * writer and the command line use them without knowing GraphQL, and
 * graphql/errors.ts maps them to GraphQL errors at the edge.
 */

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
  /** A session definition name that does not exist. */
  UnknownDefinition = 'UNKNOWN_DEFINITION',
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
