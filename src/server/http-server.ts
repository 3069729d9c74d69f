import { readFileSync } from 'node:fs';
import http from 'node:http';
import { ApolloServer, type ApolloServerPlugin } from '@apollo/server';
import { ApolloServerPluginCacheControlDisabled } from '@apollo/server/plugin/disabled';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { unwrapResolverError } from '@apollo/server/errors';
import { expressMiddleware } from '@as-integrations/express5';
import { makeExecutableSchema } from '@graphql-tools/schema';
import express from 'express';
import type { GraphQLError, GraphQLSchema } from 'graphql';
import type { Config } from '../config.ts';
import type { Logger } from '../logger.ts';
import type { Authenticator } from '../graphql/auth.ts';
import type { RequestContext, Services } from '../graphql/context.ts';
import { ErrorCode, ServiceError } from '../graphql/errors.ts';
import { formatError, isShown } from './error-masking.ts';
import { introspectionError } from '../graphql/introspection-access.ts';
import { queryParseOptions, queryValidationRules } from '../graphql/limits.ts';
import { createResolvers, type IngestObserver } from '../graphql/resolvers.ts';
import { corsMiddleware } from './cors.ts';
import { isDatabaseUnavailable, isQueryTimeout } from './database-errors.ts';
import { jsonErrorHandler, notFound } from './http-errors.ts';
import { metricsEndpoint, type ServiceMetrics } from './metrics.ts';
import { REQUEST_ID_HEADER, requestLogging } from './request-log.ts';
import { segmentRouter } from './segment/router.ts';
import { prefersHtml, staticPages } from './static-pages.ts';
import { attachWebSocketServer } from './ws-server.ts';

/** Path of the GraphQL endpoint, over HTTP and WebSocket alike. */
export const GRAPHQL_PATH = '/graphql';
const SCHEMA_FILE = new URL('../../schema.graphql', import.meta.url);

/** Builds the executable schema from schema.graphql (schema first); `observer` hears every ingest mutation. */
export function loadSchema(observer?: IngestObserver): GraphQLSchema {
  return makeExecutableSchema({ typeDefs: readFileSync(SCHEMA_FILE, 'utf8'), resolvers: createResolvers(observer) });
}

export interface HttpServerOptions {
  readonly services: Services;
  readonly authenticator: Authenticator;
  readonly logger: Logger;
  /** True when the database is reachable, migrated, and the service is not shutting down. */
  readonly isReady: () => Promise<boolean>;
  /** Served at GET /metrics (behind METRICS_API_KEY when set) and told about every ingest mutation. */
  readonly metrics: ServiceMetrics;
  /** More routes, mounted before GraphQL (the cluster's internal endpoints). */
  readonly routes?: readonly express.Router[];
}

/** The running HTTP + WebSocket server. */
export interface RunningHttpServer {
  readonly url: string;
  readonly wsUrl: string;
  readonly port: number;
  /** Stops accepting, closes subscriptions, and waits for in-flight requests. */
  stop(): Promise<void>;
}

/** HTTP status of a request refused before execution (Apollo would answer 500). */
function refusalStatus(error: ServiceError): number {
  return error.extensions['code'] === ErrorCode.Unauthenticated ? 401 : 403;
}

/**
 * Per-request hooks: introspection needs the read role once keys are set, and
 * unexpected errors are logged in full with the request id.
 */
function requestPlugin(logger: Logger): ApolloServerPlugin<RequestContext> {
  return {
    async requestDidStart({ request }) {
      // Made only when an error is logged: most requests log nothing here.
      let child: Logger | null = null;
      const log = (): Logger => (child ??= logger.child({ requestId: request.http?.headers.get(REQUEST_ID_HEADER) }));
      return {
        async willSendResponse({ response }) {
          response.http.headers.set('cache-control', 'no-store');
        },
        async didResolveOperation({ document, operation, contextValue }) {
          if (operation?.operation === 'subscription') {
            throw new ServiceError(ErrorCode.BadRequest, `subscriptions are served over WebSocket (graphql-ws) at ${GRAPHQL_PATH}, not over HTTP`, {
              http: { status: 400 },
            });
          }
          const refusal = operation === undefined ? null : introspectionError(contextValue.caller, document, operation);
          if (refusal !== null) {
            throw new ServiceError(refusal.extensions['code'] as ErrorCode, refusal.message, { http: { status: refusalStatus(refusal) } });
          }
        },
        async didEncounterErrors({ errors, operationName }) {
          for (const error of errors as readonly GraphQLError[]) {
            if (isShown(error, error.extensions['code'])) continue;
            const original = unwrapResolverError(error);
            if (isQueryTimeout(original)) {
              // Expected under load: the client got QUERY_TIMEOUT.
              log().warn({ path: error.path, operationName }, 'query cancelled by QUERY_TIMEOUT');
              continue;
            }
            const message = isDatabaseUnavailable(original)
              ? 'database unavailable while executing a GraphQL operation'
              : 'unexpected error while executing a GraphQL operation';
            log().error({ err: original, path: error.path, operationName }, message);
          }
        },
      };
    },
  };
}

/**
 * Node's limits on slow and idle clients: a request whose headers (or whole
 * body) take too long to arrive is answered 408 and its socket closed; an
 * idle keep-alive socket is closed, and one that served
 * HTTP_MAX_REQUESTS_PER_SOCKET requests is closed after its last answer.
 */
function applyHttpLimits(server: http.Server, limits: Config['load']): void {
  server.requestTimeout = limits.httpRequestTimeoutMs;
  server.headersTimeout = limits.httpHeadersTimeoutMs;
  server.keepAliveTimeout = limits.httpKeepAliveTimeoutMs;
  server.maxRequestsPerSocket = limits.httpMaxRequestsPerSocket;
}

/** Starts Apollo Server on express 5 and graphql-ws on the same port and path. */
export async function startHttpServer(
  options: HttpServerOptions,
  listen: { port: number; host: string },
): Promise<RunningHttpServer> {
  const { services, authenticator, logger, metrics } = options;
  const { config } = services;
  const schema = loadSchema(metrics);
  const app = express();
  app.disable('x-powered-by');
  app.use(requestLogging(logger));
  app.use(corsMiddleware(config.corsOrigins));
  // Node checks the request timeouts every connectionsCheckingInterval (30 s by default, kept for the default
  // HTTP_HEADERS_TIMEOUT of 60 s): half of a shorter HTTP_HEADERS_TIMEOUT keeps the check close to its value.
  const checkMs = Math.min(30_000, Math.max(250, Math.round(config.load.httpHeadersTimeoutMs / 2)));
  const httpServer = http.createServer({ connectionsCheckingInterval: checkMs }, app);
  applyHttpLimits(httpServer, config.load);
  // Attached once the port is ours: the ws library re-emits listen errors, and
  // graphql-ws would print them with a stack instead of the one-line message.
  let ws: ReturnType<typeof attachWebSocketServer> | null = null;
  const closeSubscriptions: ApolloServerPlugin<RequestContext> = {
    async serverWillStart() {
      return { drainServer: async () => ws?.stop() };
    },
  };
  const apollo = new ApolloServer<RequestContext>({
    schema,
    introspection: true,
    // Shutdown is wired once, in main.ts, in the order the service needs.
    stopOnTerminationSignals: false,
    includeStacktraceInErrorResponses: false,
    // Refuses GET and form-encoded POST requests without a preflight-forcing header (Apollo's default, kept on purpose).
    csrfPrevention: true,
    allowBatchedHttpRequests: false,
    parseOptions: queryParseOptions(config.queryLimits),
    validationRules: queryValidationRules(config.queryLimits),
    formatError,
    plugins: [
      // Requests still running (or still arriving: a slow upload) get half of SHUTDOWN_TIMEOUT; then their
      // sockets are closed, and the writer (after this) commits what was accepted within the other half.
      ApolloServerPluginDrainHttpServer({ httpServer, stopGracePeriodMillis: Math.round(config.shutdownTimeoutMs / 2) }),
      ApolloServerPluginCacheControlDisabled(),
      closeSubscriptions,
      requestPlugin(logger),
    ],
    logger,
  });
  await apollo.start();

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    const ready = await options.isReady().catch(() => false);
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not ready' });
  });
  app.get('/metrics', metricsEndpoint(metrics, config.metricsApiKeys));
  for (const router of options.routes ?? []) app.use(router);
  // Browser pages (dashboard at /, explorer at /graphql for a browser) from the bundle built at install.
  const pages = staticPages();
  app.get('/', pages.page('dashboard'));
  app.use('/assets', pages.assets);
  app.get(GRAPHQL_PATH, (req, res, next) => (prefersHtml(req) ? pages.page('explorer')(req, res, next) : next()));
  app.use(
    GRAPHQL_PATH,
    express.json({ limit: config.bodyLimitBytes }),
    expressMiddleware(apollo, {
      context: async ({ req }) => ({ services, caller: authenticator.identify(req.headers.authorization) }),
    }),
  );
  app.use(segmentRouter({ services, authenticator, logger, observer: metrics }));
  app.use(notFound);
  app.use(jsonErrorHandler(logger, config.bodyLimitBytes));

  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(listen.port, listen.host, () => {
      httpServer.off('error', reject);
      resolve();
    });
  }).catch(async (error: unknown) => {
    await apollo.stop();
    throw error;
  });
  ws = attachWebSocketServer({ httpServer, schema, services, authenticator, logger, metrics, path: GRAPHQL_PATH });
  const address = httpServer.address();
  const port = typeof address === 'object' && address !== null ? address.port : listen.port;
  const host = listen.host === '0.0.0.0' || listen.host === '::' ? '127.0.0.1' : listen.host;
  return {
    port,
    url: `http://${host}:${port}${GRAPHQL_PATH}`,
    wsUrl: `ws://${host}:${port}${GRAPHQL_PATH}`,
    stop: () => apollo.stop(),
  };
}
