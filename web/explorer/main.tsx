// The GraphQL explorer served at GET /graphql to browsers: GraphiQL, bundled
// with its styles and fonts by scripts/build-web.mjs (no CDN). Queries and
// mutations go over HTTP with the headers of the Headers tab; subscriptions go
// over graphql-ws, with the Authorization header of that tab as the
// `authorization` connection parameter (the service's WebSocket auth).
import { createGraphiQLFetcher, type Fetcher } from '@graphiql/toolkit';
import { GraphiQL } from 'graphiql';
import 'graphiql/style.css';
import { createClient, type Client } from 'graphql-ws';
import { createRoot } from 'react-dom/client';
import { GRAPHQL_PATH, graphqlWsUrl } from '../shared/endpoint.ts';
import { bearer, storedKey } from '../shared/read-key.ts';

const DEFAULT_QUERY = `# Sessions service explorer. Run with Ctrl-Enter; the Docs button shows the schema.
# Subscriptions (sessionStarted, sessionUpdated, sessionClosed) run over WebSocket.
# When the service has keys, put yours in the Headers tab: {"Authorization": "Bearer <key>"}

query Overview {
  sessions(first: 5) {
    totalCount
    nodes { id userId status startedAt endedAt eventCount topChannel }
  }
  engagementStats { sessions users events avgDurationSeconds bounceRate engagementRate conversionRate }
}
`;

/** The Authorization header among the request headers, whatever its case. */
function authorizationOf(headers: Record<string, unknown> | undefined): string | null {
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (name.toLowerCase() === 'authorization' && typeof value === 'string' && value.trim() !== '') return value;
  }
  return null;
}

/**
 * One fetcher per Authorization value: the WebSocket authenticates once per
 * connection, so a changed header needs a connection of its own. Only the
 * newest is kept open.
 */
function createFetcher(): Fetcher {
  let current: { auth: string | null; client: Client; fetcher: Fetcher } | null = null;
  const forAuth = (auth: string | null) => {
    if (current?.auth === auth) return current.fetcher;
    // dispose() rejects when the connection had failed: nothing is left to close then.
    if (current !== null) Promise.resolve(current.client.dispose()).catch(() => undefined);
    const client = createClient({ url: graphqlWsUrl(window.location), connectionParams: auth === null ? {} : { authorization: auth }, lazy: true });
    current = { auth, client, fetcher: createGraphiQLFetcher({ url: GRAPHQL_PATH, wsClient: client }) };
    return current.fetcher;
  };
  return (params, opts) => forAuth(authorizationOf(opts?.headers))(params, opts);
}

const key = storedKey();
const root = document.getElementById('explorer');
if (root === null) throw new Error('the page has no #explorer element');
createRoot(root).render(
  <GraphiQL
    fetcher={createFetcher()}
    defaultQuery={DEFAULT_QUERY}
    defaultHeaders={key === null ? '' : JSON.stringify({ Authorization: bearer(key) }, null, 2)}
    defaultEditorToolsVisibility={key === null ? false : 'headers'}
    isHeadersEditorEnabled
  />,
);
