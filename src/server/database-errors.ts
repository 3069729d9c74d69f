/**
 * Recognizes "the database cannot be reached" among the errors Prisma, its pg
 * driver adapter and node-postgres throw, so that clients get a retryable
 * SERVICE_UNAVAILABLE instead of a masked internal error.
 */

/** SQLSTATEs of a database that is down, restarting, refusing connections or gone. */
const UNAVAILABLE_SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300', '3D000', '55000']);
/** Socket errors of node-postgres. */
const SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH']);
/** Prisma: cannot reach the server, connection closed, pool timeout. */
const PRISMA_CODES = new Set(['P1001', 'P1002', 'P1017', 'P2024']);
/** Kinds of @prisma/adapter-pg driver errors that mean the database is out of reach. */
const ADAPTER_KINDS = new Set(['DatabaseNotReachable', 'ConnectionClosed', 'SocketTimeout', 'TooManyConnections', 'DatabaseDoesNotExist']);
/** node-postgres and Prisma throw some of these as plain errors without a code. */
const MESSAGES = /connection terminated|not currently accepting connections|terminating connection|timeout exceeded when trying to connect|server has closed the connection|can't reach database server|connection (?:is )?closed/i;

function matches(error: Record<string, unknown>): boolean {
  const code = error['code'] ?? error['originalCode'];
  if (typeof code === 'string' && (code.startsWith('08') || UNAVAILABLE_SQLSTATES.has(code) || SOCKET_CODES.has(code) || PRISMA_CODES.has(code))) {
    return true;
  }
  if (typeof error['kind'] === 'string' && ADAPTER_KINDS.has(error['kind'])) return true;
  return typeof error['message'] === 'string' && MESSAGES.test(error['message']);
}

/**
 * True when `test` holds for the error or one it wraps: `cause`,
 * `originalError`, Prisma's `meta.driverAdapterError`, or an AggregateError's
 * `errors` (every address of a host refused the connection).
 */
function anyCause(error: unknown, test: (record: Record<string, unknown>) => boolean): boolean {
  const seen = new Set<unknown>();
  const pending: unknown[] = [error];
  while (pending.length > 0) {
    const current = pending.pop();
    if (typeof current !== 'object' || current === null || seen.has(current)) continue;
    seen.add(current);
    const record = current as Record<string, unknown>;
    if (test(record)) return true;
    const meta = record['meta'] as Record<string, unknown> | undefined;
    pending.push(record['cause'], record['originalError'], meta?.['driverAdapterError']);
    if (Array.isArray(record['errors'])) pending.push(...(record['errors'] as unknown[]));
  }
  return false;
}

/** True when the error (or one it wraps) says the database is unreachable. */
export function isDatabaseUnavailable(error: unknown): boolean {
  return anyCause(error, matches);
}

/** SQLSTATE query_canceled: statement_timeout (QUERY_TIMEOUT) ended the statement. */
const QUERY_CANCELED = '57014';
const TIMEOUT_MESSAGE = /canceling statement due to statement timeout/i;
/** Prisma: a query's transaction outlived its timeout (a backstop; QUERY_TIMEOUT is set to end the statement first). */
const TRANSACTION_EXPIRED = 'P2028';
/**
 * SQLSTATE in_failed_sql_transaction: a statement of a read transaction ran
 * after an earlier one of it was cancelled. Reads only fail that way after
 * a timeout: under a 1 ms QUERY_TIMEOUT beside ingestion, a few in a
 * thousand cancelled analytics came back with it (Prisma reported the
 * aborted transaction, not the cancellation), as INTERNAL_SERVER_ERROR.
 */
const TRANSACTION_ABORTED = '25P02';
const ABORTED_MESSAGE = /current transaction is aborted/i;

/**
 * True when the error (or one it wraps: `cause`, `originalError`, Prisma's
 * `meta.driverAdapterError`) is a statement cancelled by statement_timeout,
 * a read transaction that expired, or one aborted by such a cancellation.
 * Only reads reach the error masking: the writer's failures become coded
 * errors of their own.
 */
export function isQueryTimeout(error: unknown): boolean {
  return anyCause(
    error,
    (record) =>
      record['code'] === QUERY_CANCELED ||
      record['originalCode'] === QUERY_CANCELED ||
      record['code'] === TRANSACTION_EXPIRED ||
      record['code'] === TRANSACTION_ABORTED ||
      record['originalCode'] === TRANSACTION_ABORTED ||
      (typeof record['message'] === 'string' && (TIMEOUT_MESSAGE.test(record['message']) || ABORTED_MESSAGE.test(record['message']))),
  );
}

/**
 * Postgres's message when the error (or one it wraps) is a data exception
 * (SQLSTATE class 22: a NUL in text, a time beyond timestamptz's range, a
 * value the column's type cannot hold), else null. Only reads reach the
 * error masking, so such a value came with the request (an argument):
 * the client's error, not the service's.
 */
export function invalidValueMessage(error: unknown): string | null {
  let message: string | null = null;
  const found = anyCause(error, (record) => {
    const code = record['originalCode'] ?? record['code'];
    if (typeof code !== 'string' || !/^22[0-9A-Z]{3}$/.test(code)) return false;
    const text = record['originalMessage'] ?? record['message'];
    message = typeof text === 'string' ? text : null;
    return true;
  });
  return found ? (message ?? 'a value Postgres cannot take') : null;
}
