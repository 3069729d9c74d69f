/** Path of the GraphQL endpoint (HTTP and WebSocket), on the page's own origin. */
export const GRAPHQL_PATH = '/graphql';

/** The WebSocket URL of the endpoint, on the page's own host. */
export function graphqlWsUrl(location: Location): string {
  return `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}${GRAPHQL_PATH}`;
}
