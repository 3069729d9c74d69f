import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

/**
 * Where secrets could appear in a logged object: authorization headers,
 * WebSocket connection parameters, and configuration (keys, database URL).
 * Nothing logs these today; the list keeps a future `log.info({ req })` safe.
 */
const REDACTED_PATHS = [
  'authorization',
  '*.authorization',
  'headers.authorization',
  '*.headers.authorization',
  '*.headers.cookie',
  'connectionParams',
  '*.connectionParams',
  'apiKeys',
  '*.apiKeys',
  'metricsApiKeys',
  '*.metricsApiKeys',
  'databaseUrl',
  '*.databaseUrl',
  'password',
  '*.password',
];

/**
 * Structured JSON logs, on stdout unless `destination` is given (tests).
 * HTTP requests log with their `requestId`.
 */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  const options = { level, base: { service: 'sessions' }, redact: { paths: REDACTED_PATHS, censor: '[redacted]' } };
  return destination === undefined ? pino(options) : pino(options, destination);
}
