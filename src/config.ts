import { DefinitionsError, defaultDefinitions, readDefinitionsFile, type SessionDefinition } from './definitions/definitions.ts';
import { parseDurationMs } from './duration.ts';

/** Typed, validated service configuration (all durations in milliseconds). */
export interface Config {
  readonly port: number;
  readonly host: string;
  /** postgres:// URL, or null for embedded PGlite under `dataDir`. */
  readonly databaseUrl: string | null;
  readonly databasePoolSize: number;
  readonly dataDir: string;
  readonly migrateOnStart: boolean;
  readonly sessionGapMs: number;
  readonly sessionMaxDurationMs: number;
  readonly allowedLatenessMs: number;
  readonly maxFutureSkewMs: number;
  readonly conversionEvents: ReadonlySet<string>;
  readonly engagedMinDurationMs: number;
  readonly engagedMinEvents: number;
  /**
   * The session definitions (DESIGN.md "Session definitions"): from the
   * SESSION_DEFINITIONS file, else `default` alone from the variables above.
   * Always holds `default`.
   */
  readonly definitions: readonly SessionDefinition[];
  /** SESSION_DEFINITIONS as given, or null. */
  readonly definitionsFile: string | null;
  /** Most stored events one step of a definition build reads (DEFINITION_BUILD_STEP_EVENTS). */
  readonly definitionBuildStepEvents: number;
  readonly maxBatchSize: number;
  /** Most events one group commit takes from the writer queue. */
  readonly groupCommitMaxEvents: number;
  readonly updateIntervalMs: number;
  readonly maxPageSize: number;
  /** Most unsent bytes a WebSocket may hold; past that it is closed as a slow consumer (1013). */
  readonly wsMaxBufferedBytes: number;
  /** Longest a WebSocket with unsent bytes may go without finishing a write before it is closed as a slow consumer (1013). */
  readonly wsSendTimeoutMs: number;
  /** Most messages one subscription may fall behind before it is closed as a slow consumer (1013). */
  readonly wsMaxQueuedMessages: number;
  readonly bodyLimitBytes: number;
  readonly shutdownTimeoutMs: number;
  readonly logLevel: string;
  /** Limits on one GraphQL document, checked before it runs (see src/graphql/limits.ts). */
  readonly queryLimits: {
    readonly maxDepth: number;
    readonly maxCost: number;
    readonly maxAliases: number;
    readonly maxDirectives: number;
    readonly maxTokens: number;
  };
  /** Bearer keys that may read GET /metrics; empty = /metrics is open. */
  readonly metricsApiKeys: readonly string[];
  readonly apiKeys: {
    readonly ingest: readonly string[];
    readonly read: readonly string[];
    readonly admin: readonly string[];
  };
  /** CORS_ORIGINS: browser origins allowed to call the HTTP API; `*` any; empty = same origin only. */
  readonly corsOrigins: '*' | readonly string[];
  /** Several instances on one database (DESIGN.md, Cluster). */
  readonly cluster: ClusterConfig;
  /** Limits that keep one process within bounds under load (README, Under load). */
  readonly load: LoadConfig;
}

/** Admission control, pool isolation and HTTP limits (DATABASE_WRITER_POOL_SIZE, MAX_QUEUED_EVENTS, ...). */
export interface LoadConfig {
  /** Connections of the writer's own pool (the writer, cluster ownership); queries never use them. */
  readonly writerPoolSize: number;
  /** Most events accepted into the writer and not yet answered (queued plus being committed); past it ingest is refused. */
  readonly maxQueuedEvents: number;
  /** statement_timeout of the query pool, ms (0: none). */
  readonly queryTimeoutMs: number;
  /** Most closures one sessionClosed(after:) replays; an older cursor is refused with CURSOR_TOO_OLD. */
  readonly replayMaxClosures: number;
  /** Longest the whole HTTP request (headers and body) may take to arrive, ms. */
  readonly httpRequestTimeoutMs: number;
  /** Longest the HTTP request headers may take to arrive, ms. */
  readonly httpHeadersTimeoutMs: number;
  /** Idle keep-alive connections are closed after this, ms. */
  readonly httpKeepAliveTimeoutMs: number;
  /** Requests served on one keep-alive connection before it is closed (0: no limit). */
  readonly httpMaxRequestsPerSocket: number;
  /** Most bytes of large HTTP request bodies (64 KiB and up) read and parsed at once; past it they are refused with 503. */
  readonly maxInflightBodyBytes: number;
  /** Most open WebSocket connections per process; more are refused with HTTP 503. */
  readonly wsMaxConnections: number;
  /** Most active subscriptions on one WebSocket; another is answered TOO_MANY_SUBSCRIPTIONS (WS_MAX_SUBSCRIPTIONS). */
  readonly wsMaxSubscriptions: number;
  /** TEST ONLY: the writer fails every group holding this eventId, as a bug in the sessionizer would (TEST_FAULT_EVENT_ID). */
  readonly testFaultEventId: string | null;
}

/**
 * Variables of {@link LoadConfig}. MAX_QUEUED_EVENTS defaults to one full
 * group commit (GROUP_COMMIT_MAX_EVENTS, at least four full batches): enough
 * for two overlapped groups of the usual size, and a backlog the writer
 * clears in a second or two at the rates in BENCHMARKS.md, so an admitted
 * batch is answered within a few seconds however many clients wait.
 */
function loadLimits(env: Env, groupCommitMaxEvents: number, maxBatchSize: number, bodyLimitBytes: number): LoadConfig {
  const maxQueuedEvents = integer(env, 'MAX_QUEUED_EVENTS', Math.max(groupCommitMaxEvents, 4 * maxBatchSize), 1, 100_000_000);
  if (maxQueuedEvents < maxBatchSize) {
    throw new ConfigError(`MAX_QUEUED_EVENTS=${maxQueuedEvents} must be at least MAX_BATCH_SIZE (${maxBatchSize}): a full batch must fit`);
  }
  // Node's own defaults: made explicit and configurable, not changed under the clients of the service.
  const headersTimeoutMs = duration(env, 'HTTP_HEADERS_TIMEOUT', '60s');
  const requestTimeoutMs = duration(env, 'HTTP_REQUEST_TIMEOUT', '300s');
  if (headersTimeoutMs > requestTimeoutMs) {
    throw new ConfigError(`HTTP_HEADERS_TIMEOUT (${headersTimeoutMs} ms) must not be longer than HTTP_REQUEST_TIMEOUT (${requestTimeoutMs} ms)`);
  }
  return Object.freeze({
    writerPoolSize: integer(env, 'DATABASE_WRITER_POOL_SIZE', 4, 1, 1_000),
    maxQueuedEvents,
    queryTimeoutMs: duration(env, 'QUERY_TIMEOUT', '30s', { allowZero: true }),
    replayMaxClosures: integer(env, 'REPLAY_MAX_CLOSURES', 100_000, 1, 100_000_000),
    httpRequestTimeoutMs: requestTimeoutMs,
    httpHeadersTimeoutMs: headersTimeoutMs,
    httpKeepAliveTimeoutMs: duration(env, 'HTTP_KEEP_ALIVE_TIMEOUT', '5s'),
    httpMaxRequestsPerSocket: integer(env, 'HTTP_MAX_REQUESTS_PER_SOCKET', 0, 0, 1_000_000_000),
    maxInflightBodyBytes: integer(env, 'MAX_INFLIGHT_BODY_BYTES', 4 * bodyLimitBytes, 65_536, 17_179_869_184),
    wsMaxConnections: integer(env, 'WS_MAX_CONNECTIONS', 10_000, 1, 10_000_000),
    wsMaxSubscriptions: integer(env, 'WS_MAX_SUBSCRIPTIONS', 100, 1, 1_000_000),
    testFaultEventId: raw(env, 'TEST_FAULT_EVENT_ID') ?? null,
  });
}

/** CLUSTER_* variables. */
export interface ClusterConfig {
  /** User partitions; null when CLUSTER_PARTITIONS is unset (the stored count, or 64 on a new database). */
  readonly partitions: number | null;
  /** How the other instances reach this one; null: http://<first non-internal address>:<port>. */
  readonly advertiseUrl: string | null;
  /** Authenticates calls between instances; null: generated once and kept in the database. */
  readonly secret: string | null;
  /** Longest a dead instance's partitions stay unowned, ms. */
  readonly failoverMs: number;
}

function advertiseUrl(env: Env): string | null {
  const text = raw(env, 'CLUSTER_ADVERTISE_URL');
  if (text === undefined) return null;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ConfigError(`CLUSTER_ADVERTISE_URL=${JSON.stringify(text)} is not a URL (expected http://host:port)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConfigError(`CLUSTER_ADVERTISE_URL must start with http:// or https:// (got ${url.protocol}//)`);
  }
  return text.replace(/\/$/, '');
}

function clusterConfig(env: Env): ClusterConfig {
  const secret = raw(env, 'CLUSTER_SECRET') ?? null;
  if (secret !== null && secret.length < 16) throw new ConfigError('CLUSTER_SECRET must be at least 16 characters long');
  const failoverMs = duration(env, 'CLUSTER_FAILOVER', '10s');
  if (failoverMs < 2_000) throw new ConfigError(`CLUSTER_FAILOVER (${failoverMs} ms) must be at least 2s`);
  return Object.freeze({
    partitions: raw(env, 'CLUSTER_PARTITIONS') === undefined ? null : integer(env, 'CLUSTER_PARTITIONS', 64, 1, 4_096),
    advertiseUrl: advertiseUrl(env),
    secret,
    failoverMs,
  });
}

/** A configuration value that cannot be used; `message` names the variable. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

type Env = Readonly<Record<string, string | undefined>>;

const LOG_LEVELS = new Set(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

function raw(env: Env, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

function duration(env: Env, name: string, fallback: string, { allowZero = false } = {}): number {
  const text = raw(env, name) ?? fallback;
  const ms = parseDurationMs(text);
  if (ms === null || (!allowZero && ms === 0)) {
    throw new ConfigError(
      `${name}=${JSON.stringify(text)} is not a valid duration (use 500ms, 30s, 15m, 24h, 7d or a number of seconds${allowZero ? '' : ', greater than 0'})`,
    );
  }
  return ms;
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const text = raw(env, name);
  if (text === undefined) return fallback;
  const value = /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name}=${JSON.stringify(text)} must be a whole number from ${min} to ${max}`);
  }
  return value;
}

function list(env: Env, name: string, fallback: string): string[] {
  return (raw(env, name) ?? fallback)
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

function boolean(env: Env, name: string, fallback: boolean): boolean {
  const text = raw(env, name)?.toLowerCase();
  if (text === undefined) return fallback;
  if (['1', 'true', 'yes', 'on'].includes(text)) return true;
  if (['0', 'false', 'no', 'off'].includes(text)) return false;
  throw new ConfigError(`${name}=${JSON.stringify(text)} must be true or false`);
}

function databaseUrl(env: Env): string | null {
  const text = raw(env, 'DATABASE_URL');
  if (text === undefined) return null;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ConfigError('DATABASE_URL is not a valid URL (expected postgres://user:password@host:5432/database)');
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new ConfigError(`DATABASE_URL must start with postgres:// or postgresql:// (got ${url.protocol}//)`);
  }
  return text;
}

/**
 * WS_MAX_QUEUED_MESSAGES. One commit can publish as many starts (and updates)
 * as it has events, at once, to every subscriber: a bound below that would
 * cut healthy subscribers, so the value may not be smaller than the largest
 * commit (GROUP_COMMIT_MAX_EVENTS, or MAX_BATCH_SIZE when one mutation is
 * larger), and the default leaves room for two such commits.
 */
function queuedMessages(env: Env, maxBatchSize: number, groupCommitMaxEvents: number): number {
  const largestCommit = Math.max(groupCommitMaxEvents, maxBatchSize);
  const value = integer(env, 'WS_MAX_QUEUED_MESSAGES', Math.max(100_000, 2 * largestCommit), 1, 100_000_000);
  if (value < largestCommit) {
    throw new ConfigError(
      `WS_MAX_QUEUED_MESSAGES=${value} must be at least the largest commit, ${largestCommit} events (GROUP_COMMIT_MAX_EVENTS / MAX_BATCH_SIZE)`,
    );
  }
  return value;
}

/**
 * CORS_ORIGINS: `*`, or origins as a browser sends them in `Origin`
 * (scheme://host[:port], no path); unset = same origin only.
 */
function corsOrigins(env: Env): '*' | readonly string[] {
  const origins = list(env, 'CORS_ORIGINS', '');
  if (origins.length === 1 && origins[0] === '*') return '*';
  for (const origin of origins) {
    let parsed: URL | null = null;
    try {
      parsed = new URL(origin);
    } catch {
      // reported below
    }
    if (parsed === null || parsed.origin !== origin.replace(/\/$/, '') || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')) {
      throw new ConfigError(
        `CORS_ORIGINS entry ${JSON.stringify(origin)} is not an origin (use http(s)://host[:port] with no path, comma-separated, or * alone)`,
      );
    }
  }
  return Object.freeze(origins.map((origin) => origin.replace(/\/$/, '')));
}

/**
 * Reads every variable of the configuration table once, validates it and
 * returns a frozen Config. Throws ConfigError naming the first bad variable.
 */
export function loadConfig(env: Env = process.env): Config {
  const logLevel = raw(env, 'LOG_LEVEL') ?? 'info';
  if (!LOG_LEVELS.has(logLevel)) {
    throw new ConfigError(`LOG_LEVEL=${JSON.stringify(logLevel)} must be one of ${[...LOG_LEVELS].join(', ')}`);
  }
  const maxBatchSize = integer(env, 'MAX_BATCH_SIZE', 10_000, 1, 1_000_000);
  const rules = {
    gapMs: duration(env, 'SESSION_GAP', '30m'),
    maxDurationMs: duration(env, 'SESSION_MAX_DURATION', '24h'),
    conversionEvents: new Set(list(env, 'CONVERSION_EVENTS', 'purchase')) as ReadonlySet<string>,
    engagedMinDurationMs: duration(env, 'ENGAGED_MIN_DURATION', '10s', { allowZero: true }),
    engagedMinEvents: integer(env, 'ENGAGED_MIN_EVENTS', 2, 1, 1_000_000),
  };
  const definitionsFile = raw(env, 'SESSION_DEFINITIONS') ?? null;
  const groupCommitMaxEvents = integer(env, 'GROUP_COMMIT_MAX_EVENTS', 50_000, 1, 10_000_000);
  const config: Config = {
    port: integer(env, 'PORT', 4000, 0, 65_535),
    host: raw(env, 'HOST') ?? '0.0.0.0',
    databaseUrl: databaseUrl(env),
    databasePoolSize: integer(env, 'DATABASE_POOL_SIZE', 10, 1, 1_000),
    dataDir: raw(env, 'DATA_DIR') ?? './.data',
    migrateOnStart: boolean(env, 'MIGRATE_ON_START', true),
    sessionGapMs: rules.gapMs,
    sessionMaxDurationMs: rules.maxDurationMs,
    allowedLatenessMs: duration(env, 'ALLOWED_LATENESS', '30s', { allowZero: true }),
    maxFutureSkewMs: duration(env, 'MAX_FUTURE_SKEW', '5m', { allowZero: true }),
    conversionEvents: rules.conversionEvents,
    engagedMinDurationMs: rules.engagedMinDurationMs,
    engagedMinEvents: rules.engagedMinEvents,
    definitions: [],
    definitionsFile,
    definitionBuildStepEvents: integer(env, 'DEFINITION_BUILD_STEP_EVENTS', 20_000, 1, 10_000_000),
    maxBatchSize,
    groupCommitMaxEvents,
    updateIntervalMs: duration(env, 'UPDATE_INTERVAL', '1s', { allowZero: true }),
    maxPageSize: integer(env, 'MAX_PAGE_SIZE', 500, 1, 100_000),
    wsMaxBufferedBytes: integer(env, 'WS_MAX_BUFFERED_BYTES', 4_194_304, 1_024, 1_073_741_824),
    wsSendTimeoutMs: duration(env, 'WS_SEND_TIMEOUT', '10s'),
    wsMaxQueuedMessages: queuedMessages(env, maxBatchSize, groupCommitMaxEvents),
    bodyLimitBytes: integer(env, 'BODY_LIMIT_BYTES', 16_777_216, 1_024, 1_073_741_824),
    shutdownTimeoutMs: duration(env, 'SHUTDOWN_TIMEOUT', '10s'),
    logLevel,
    queryLimits: Object.freeze({
      maxDepth: integer(env, 'MAX_QUERY_DEPTH', 8, 1, 1_000),
      // A full page (first: 500) of every Session field costs about 61k.
      maxCost: integer(env, 'MAX_QUERY_COST', 100_000, 1, 1_000_000_000),
      maxAliases: integer(env, 'MAX_QUERY_ALIASES', 15, 0, 10_000),
      maxDirectives: integer(env, 'MAX_QUERY_DIRECTIVES', 50, 0, 10_000),
      maxTokens: integer(env, 'MAX_QUERY_TOKENS', 10_000, 100, 10_000_000),
    }),
    metricsApiKeys: Object.freeze(list(env, 'METRICS_API_KEY', '')),
    apiKeys: Object.freeze({
      ingest: Object.freeze(list(env, 'INGEST_API_KEYS', '')),
      read: Object.freeze(list(env, 'READ_API_KEYS', '')),
      admin: Object.freeze(list(env, 'ADMIN_API_KEYS', '')),
    }),
    cluster: clusterConfig(env),
    corsOrigins: corsOrigins(env),
    load: loadLimits(env, groupCommitMaxEvents, maxBatchSize, integer(env, 'BODY_LIMIT_BYTES', 16_777_216, 1_024, 1_073_741_824)),
  };
  if (config.sessionMaxDurationMs <= config.sessionGapMs) {
    throw new ConfigError(
      `SESSION_MAX_DURATION (${config.sessionMaxDurationMs} ms) must be longer than SESSION_GAP (${config.sessionGapMs} ms)`,
    );
  }
  let definitions: SessionDefinition[];
  try {
    definitions = definitionsFile === null ? defaultDefinitions(rules) : readDefinitionsFile(definitionsFile, rules);
  } catch (error) {
    // One line naming the file, the definition and the field; exit code 1 like every configuration error.
    if (error instanceof DefinitionsError) throw new ConfigError(error.message);
    throw error;
  }
  return Object.freeze({ ...config, definitions: Object.freeze(definitions) });
}
