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
  /** A WebSocket already holds WS_MAX_SUBSCRIPTIONS active subscriptions. */
  TooManySubscriptions = 'TOO_MANY_SUBSCRIPTIONS',
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

/**
 * An expected failure with a public code and a message meant for clients,
 * raised below the API layers (ingest, store, cluster), which know no
 * GraphQL. `extensions` holds the code and any extra fields as the GraphQL
 * API shows them: graphql-js copies the `extensions` of an error a resolver
 * throws into the GraphQL error it makes, src/server/error-masking.ts lets it
 * through unmasked, and the HTTP and Segment edges answer with its code.
 */
export class CodedError extends Error {
  readonly extensions: Readonly<Record<string, unknown>>;

  constructor(
    readonly code: ErrorCode,
    message: string,
    extra: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'CodedError';
    this.extensions = { code, ...extra };
  }
}

/** The public code of a coded error, or null for any other error. */
export function codeOf(error: unknown): ErrorCode | null {
  return error instanceof CodedError ? error.code : null;
}
