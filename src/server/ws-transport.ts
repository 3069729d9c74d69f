import type http from 'node:http';
import { CloseCode, handleProtocols, makeServer, type ServerOptions } from 'graphql-ws';
import { WebSocket, type WebSocketServer } from 'ws';
import type { Logger } from '../logger.ts';
import { WsCloseCode } from './close-codes.ts';
import { Connection, type ConnectionHooks, type DeliveryLimits } from './ws-connection.ts';

/** How long shutdown waits for clients to answer the close frame before it cuts them (ms). */
const CLOSE_GRACE_MS = 1_000;

/** What graphql-ws hands to the hooks as `ctx.extra`. */
export interface SocketExtra {
  readonly socket: WebSocket;
  readonly request: http.IncomingMessage;
  /** The socket's send side: pacing, cut-off, and the owner of its subscriptions. */
  readonly connection: Connection;
}

/** Options of {@link useGraphqlWs} besides graphql-ws's own. */
export interface TransportOptions extends DeliveryLimits, ConnectionHooks {
  /** Interval of keep-alive pings (ms); a socket without a pong within it is terminated. */
  readonly keepAliveMs: number;
  readonly logger: Logger;
}

/**
 * graphql-ws on a ws server. It does what graphql-ws's own `useServer`
 * (graphql-ws/use/ws, "a basic starter, feel free to copy") does: protocol
 * check, keep-alive pings, one message in flight per subscription, errors
 * closing the socket with 4500. Sends go through a {@link Connection}, which
 * also cuts off clients that stop reading (ending their subscriptions at
 * once, not when the close handshake ends) and counts the `next` messages
 * sent. Unexpected errors are logged in full and reach the client as
 * "Internal server error" only.
 */
export function useGraphqlWs<P extends Record<string, unknown> | undefined>(
  wss: WebSocketServer,
  options: ServerOptions<P, SocketExtra>,
  transport: TransportOptions,
): { dispose(): Promise<void> } {
  const server = makeServer(options);
  const { logger, keepAliveMs } = transport;
  wss.options.handleProtocols = handleProtocols;
  const internalError = (socket: WebSocket, error: unknown, message: string): void => {
    logger.error({ err: error }, message);
    socket.close(CloseCode.InternalServerError, 'Internal server error');
  };
  wss.on('error', (error) => logger.error({ err: error }, 'WebSocket server error'));
  wss.on('connection', (socket, request) => {
    const connection = new Connection(socket, transport, transport);
    socket.once('error', (error) => internalError(socket, error, 'WebSocket error'));
    let pongWait: NodeJS.Timeout | null = null;
    const ping = setInterval(() => {
      if (socket.readyState !== WebSocket.OPEN) return;
      pongWait = setTimeout(() => socket.terminate(), keepAliveMs);
      socket.once('pong', () => {
        if (pongWait !== null) clearTimeout(pongWait);
        pongWait = null;
      });
      socket.ping();
    }, keepAliveMs);
    const closed = server.opened(
      {
        protocol: socket.protocol,
        send: (data) => connection.send(data),
        close: (code, reason) => socket.close(code, reason),
        onMessage: (handle) =>
          socket.on('message', async (data) => {
            // A cut-off connection has no subscriptions left; let it start none.
            if (!connection.open) return;
            try {
              await handle(String(data));
            } catch (error) {
              internalError(socket, error, 'error while handling a graphql-ws message');
            }
          }),
      },
      { socket, request, connection },
    );
    connection.whenClosed((code, reason) =>
      closed(code, reason).catch((error: unknown) => logger.error({ err: error }, 'error while ending the subscriptions of a socket')),
    );
    socket.once('close', (code, reason) => {
      clearInterval(ping);
      if (pongWait !== null) clearTimeout(pongWait);
      connection.closed(code, String(reason));
    });
  });
  return {
    async dispose() {
      for (const client of wss.clients) client.close(WsCloseCode.GoingAway, 'server shutting down');
      // A client that does not answer the close frame (it stopped reading) would
      // hold the shutdown for ws's 30 s close timeout: cut it after a short grace.
      const grace = setTimeout(() => {
        for (const client of wss.clients) client.terminate();
      }, CLOSE_GRACE_MS);
      grace.unref();
      wss.removeAllListeners();
      try {
        await new Promise<void>((resolve, reject) => wss.close((error) => (error ? reject(error) : resolve())));
      } finally {
        clearTimeout(grace);
      }
    },
  };
}
