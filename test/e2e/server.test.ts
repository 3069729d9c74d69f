import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { gql, wsClient } from '../helpers/graphql.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

describe('server foundation', () => {
  let db: TestDatabase;
  let server: TestServer;

  beforeAll(async () => {
    db = await createTestDatabase();
    server = await startTestServer(db.url);
  });
  afterAll(async () => {
    await server?.stop();
    await db?.drop();
  });

  it('answers a GraphQL query over HTTP', async () => {
    const result = await gql(server.url, '{ __typename }');
    expect(result.status).toBe(200);
    expect(result.data).toEqual({ __typename: 'Query' });
  });

  it('marks GraphQL answers, data and errors, as not to be stored by caches', async () => {
    for (const query of ['{ __typename }', '{ nope }']) {
      const response = await fetch(server.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query }) });
      expect(response.headers.get('cache-control')).toBe('no-store');
    }
  });

  it('serves liveness and readiness', async () => {
    const base = server.url.replace('/graphql', '');
    const health = await fetch(`${base}/healthz`);
    expect(health.status).toBe(200);
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready' });
  });

  it('acknowledges a graphql-ws connection on the same port and path', async () => {
    const client = wsClient(server.wsUrl);
    const acked = new Promise<boolean>((resolve, reject) => {
      client.on('connected', () => resolve(true));
      client.on('error', reject);
      client.on('closed', (event) => reject(new Error(`closed: ${JSON.stringify(event)}`)));
    });
    await expect(acked).resolves.toBe(true);
    const typename = await new Promise((resolve, reject) => {
      client.subscribe({ query: '{ __typename }' }, { next: (m) => resolve(m.data), error: reject, complete: () => undefined });
    });
    expect(typename).toEqual({ __typename: 'Query' });
    await client.dispose();
  });

  it('masks nothing for request errors: a syntax error is coded', async () => {
    const result = await gql(server.url, '{ nope ');
    expect(result.status).toBe(400);
    expect(result.errors?.[0]?.extensions?.code).toBe('GRAPHQL_PARSE_FAILED');
  });

  it('refuses a subscription over HTTP with a coded error that points to WebSocket', async () => {
    const result = await gql(server.url, 'subscription { sessionClosed { id } }');
    expect(result.status).toBe(400);
    expect(result.errors?.[0]?.extensions?.code).toBe('BAD_REQUEST');
    expect(result.errors?.[0]?.message).toMatch(/WebSocket/);
  });
});
