/** WebSocket close codes this service uses besides graphql-ws's own (4400 bad request, 4403 forbidden, ...). */
export enum WsCloseCode {
  /** The client stopped reading: its queue or send buffer passed the limit. */
  SlowConsumer = 4429,
  /** The server is shutting down (RFC 6455 "going away"). */
  GoingAway = 1001,
}
