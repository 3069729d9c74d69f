import type http from 'node:http';
import type { GraphQLSchema } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import type { Logger } from '../logger.ts';
import type { Caller, createAuthenticator } from '../graphql/auth.ts';
import type { RequestContext, Services } from '../graphql/context.ts';
import { createSharedSubscribe } from '../realtime/shared-execution.ts';
import { WsCloseCode } from './close-codes.ts';

/** Interval of graphql-ws keep-alive pings (ms). */
const KEEP_ALIVE_MS = 12_000;

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
}

/**
 * graphql-ws on the HTTP server's port. The connection is authenticated once,
 * from the `authorization` connection parameter; a refused connection is
 * closed by graphql-ws with 4403 Forbidden.
 */
export function attachWebSocketServer(options: WsOptions): { stop(): Promise<void> } {
  const { services, authenticator, logger } = options;
  const wss = new WebSocketServer({ server: options.httpServer, path: options.path, maxPayload: 1_048_576 });
  const callers = new WeakMap<object, Caller>();
  const disposable = useServer<Record<string, unknown> | undefined, { caller?: Caller }>(
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
      context(ctx): RequestContext {
        const socket = ctx.extra.socket;
        return {
          services,
          caller: callers.get(socket) ?? { kind: 'anonymous' },
          closeSocket: (code, reason) => {
            logger.warn({ code, reason }, 'closing a WebSocket connection');
            socket.close(code, reason);
          },
          bufferedAmount: () => socket.bufferedAmount,
        };
      },
    },
    wss,
    KEEP_ALIVE_MS,
  );
  return {
    async stop() {
      services.bus.close();
      for (const client of wss.clients) client.close(WsCloseCode.GoingAway, 'server shutting down');
      await disposable.dispose();
    },
  };
}
