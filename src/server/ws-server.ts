import type http from 'node:http';
import type { GraphQLError, GraphQLSchema } from 'graphql';
import { WebSocketServer } from 'ws';
import type { Logger } from '../logger.ts';
import type { Caller, createAuthenticator } from '../graphql/auth.ts';
import type { RequestContext, Services } from '../graphql/context.ts';
import { ErrorCode } from '../graphql/errors.ts';
import type { SocketContext } from '../graphql/subscriptions.ts';
import { createSharedSubscribe } from '../realtime/shared-execution.ts';
import type { RealtimeMetrics } from './metrics.ts';
import { maskError } from './error-masking.ts';
import { coded, createOperationCheck, refusal } from './ws-operation.ts';
import { useGraphqlWs } from './ws-transport.ts';

/** Interval of graphql-ws keep-alive pings (ms). */
const KEEP_ALIVE_MS = 12_000;
/** Largest message a client may send (bytes). */
const MAX_PAYLOAD_BYTES = 1_048_576;
/** Retry-After (seconds) of an upgrade refused past WS_MAX_CONNECTIONS. */
const WS_REFUSAL_RETRY_AFTER_S = 5;

/** Who a subscription's results may be shared with: callers with the same roles. */
function callerKey(contextValue: unknown): string {
  const caller = (contextValue as RequestContext).caller;
  return caller.kind === 'key' ? `key:${[...caller.roles].sort().join(',')}` : caller.kind;
}

interface WsOptions {
  readonly httpServer: http.Server;
  readonly schema: GraphQLSchema;
  readonly services: Services;
  readonly authenticator: ReturnType<typeof createAuthenticator>;
  readonly logger: Logger;
  readonly path: string;
  /** Told about subscription messages sent, and dropped when a connection is cut off. */
  readonly metrics: RealtimeMetrics;
}

/**
 * graphql-ws on the HTTP server's port. The connection is authenticated once,
 * from the `authorization` connection parameter (a refused connection is
 * closed with 4403); every operation goes through the same checks as over
 * HTTP (query limits, introspection role) before it runs. A connection that
 * stops reading, or falls more than WS_MAX_QUEUED_MESSAGES behind on one
 * subscription, is cut off with 1013 and its undelivered messages are
 * counted as dropped. Past WS_MAX_CONNECTIONS open sockets, an upgrade is
 * answered 503 with TOO_MANY_CONNECTIONS.
 */
export function attachWebSocketServer(options: WsOptions): { stop(): Promise<void> } {
  const { services, authenticator, logger, metrics } = options;
  const { config, bus } = services;
  const maxConnections = config.load.wsMaxConnections;
  const maxSubscriptions = config.load.wsMaxSubscriptions;
  const wss: WebSocketServer = new WebSocketServer({
    server: options.httpServer,
    path: options.path,
    maxPayload: MAX_PAYLOAD_BYTES,
    // Answered in the same turn, so an accepted socket is in wss.clients before the next upgrade is checked.
    verifyClient: (_info, done) => {
      if (wss.clients.size < maxConnections) {
        done(true);
        return;
      }
      logger.warn({ maxConnections }, 'refused a WebSocket: WS_MAX_CONNECTIONS reached');
      const body = JSON.stringify({
        errors: [{ message: `this instance holds its maximum of ${maxConnections} WebSocket connections (WS_MAX_CONNECTIONS); retry later or on another instance`, extensions: { code: ErrorCode.TooManyConnections } }],
      });
      done(false, 503, body, { 'Content-Type': 'application/json', 'Retry-After': String(WS_REFUSAL_RETRY_AFTER_S) });
    },
  });
  const callers = new WeakMap<object, Caller>();
  const check = createOperationCheck(options.schema, config.queryLimits);
  const logHidden = (error: GraphQLError, id: string, operationName: string | null | undefined): void => {
    logger.error({ err: error.originalError ?? error, path: error.path, operationName, subscriptionId: id }, 'unexpected error in a WebSocket operation');
  };
  const disposable = useGraphqlWs<Record<string, unknown> | undefined>(
    wss,
    {
      schema: options.schema,
      // One execution per published session and operation, not per subscriber.
      subscribe: createSharedSubscribe({ contextKey: callerKey }),
      onConnect(ctx) {
        const caller = authenticator.identify(ctx.connectionParams?.['authorization']);
        if (caller.kind === 'anonymous') return false;
        callers.set(ctx.extra.socket, caller);
        return true;
      },
      onSubscribe: (ctx, _id, payload) =>
        // graphql-ws registers the new one before asking, and forgets a refused one.
        Object.keys(ctx.subscriptions).length > maxSubscriptions
          ? [refusal(`this connection holds its maximum of ${maxSubscriptions} active subscriptions (WS_MAX_SUBSCRIPTIONS); complete one first, or open another connection`, ErrorCode.TooManySubscriptions)]
          : check(payload, callers.get(ctx.extra.socket) ?? { kind: 'anonymous' }),
      // Unexpected errors are masked for clients and logged in full, as over HTTP.
      onError: (_ctx, id, payload, errors) => errors.map((error) => maskError(error, (hidden) => logHidden(hidden, id, payload.operationName))),
      onNext: (_ctx, id, payload, _args, result) => {
        if (result.errors === undefined || result.errors.length === 0) return undefined;
        // A new result: with shared execution this one may go to other subscribers too.
        // Without data, nothing ran: graphql-js refused the request itself (a variable of the wrong
        // type, say), which Apollo answers over HTTP as BAD_USER_INPUT; so does this side.
        const errors = result.errors.map((error) =>
          maskError(result.data === undefined && isRequestError(error) ? coded(error, 'BAD_USER_INPUT') : error, (hidden) =>
            logHidden(hidden, id, payload.operationName),
          ),
        );
        return result.data === undefined ? { errors } : { data: result.data, errors };
      },
      context(ctx): SocketContext {
        const { socket, connection } = ctx.extra;
        return {
          services,
          caller: callers.get(socket) ?? { kind: 'anonymous' },
          connection,
          closeSocket: (code, reason) => connection.cut(code, reason),
        };
      },
    },
    {
      keepAliveMs: KEEP_ALIVE_MS,
      maxBufferedBytes: config.wsMaxBufferedBytes,
      sendTimeoutMs: config.wsSendTimeoutMs,
      logger,
      sent: () => metrics.wsMessageSent(),
      cut: (connection, reason) => {
        const dropped = bus.cut(connection);
        if (dropped > 0) metrics.wsMessageDropped(dropped);
        logger.warn({ reason, dropped }, 'cut off a slow WebSocket consumer');
      },
    },
  );
  return {
    async stop() {
      bus.close();
      await disposable.dispose();
    },
  };
}

/**
 * An error graphql-js made of the request itself (coercing its variables):
 * uncoded, and wrapping nothing or only another such error, where a
 * resolver's failure wraps the thrown Error.
 */
function isRequestError(error: { extensions: Record<string, unknown>; originalError?: unknown }): boolean {
  if (error.extensions['code'] !== undefined) return false;
  const inner = error.originalError as { name?: unknown; extensions?: Record<string, unknown> } | null | undefined;
  return inner == null || (inner.name === 'GraphQLError' && inner.extensions?.['code'] === undefined);
}
