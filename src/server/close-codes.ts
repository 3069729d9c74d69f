/** WebSocket close codes this service uses besides graphql-ws's own (4400 bad request, 4403 forbidden, ...). */
export enum WsCloseCode {
  /**
   * The client stopped reading (its queue or send buffer passed the limit):
   * RFC 6455's "try again later". Not graphql-ws's 4429, which its client
   * treats as fatal: a client cut off here should reconnect (and resume
   * sessionClosed with `after`), which graphql-ws's client does for 1013.
   */
  SlowConsumer = 1013,
  /** The server is shutting down (RFC 6455 "going away"). */
  GoingAway = 1001,
}
