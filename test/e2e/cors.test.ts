import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { gql } from '../helpers/graphql.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

const LISTED = 'http://app.test:8081';
const UNLISTED = 'http://elsewhere.test:8081';

/** A browser's preflight for a JSON POST with a bearer key. */
function preflight(url: string, origin: string): Promise<Response> {
  return fetch(url, {
    method: 'OPTIONS',
    headers: {
      origin,
      'access-control-request-method': 'POST',
      'access-control-request-headers': 'content-type,authorization,apollo-require-preflight,x-request-id',
    },
  });
}

describe('CORS per CORS_ORIGINS (HTTP level)', () => {
  let db: TestDatabase;
  const servers: TestServer[] = [];
  let listed: TestServer;
  let any: TestServer;
  let unset: TestServer;

  beforeAll(async () => {
    db = await createTestDatabase();
    listed = await startTestServer(db.url, { CORS_ORIGINS: LISTED });
    servers.push(listed);
    any = await startTestServer(db.url, { CORS_ORIGINS: '*' });
    servers.push(any);
    unset = await startTestServer(db.url);
    servers.push(unset);
  });
  afterAll(async () => {
    for (const server of servers) await server.stop();
    await db?.drop();
  });

  it('answers the preflight of a listed origin with the headers clients send', async () => {
    const response = await preflight(listed.url, LISTED);
    expect(response.status).toBe(204);
    expect(response.headers.get('access-control-allow-origin')).toBe(LISTED);
    expect(response.headers.get('access-control-allow-methods')).toBe('GET,POST,OPTIONS');
    expect(response.headers.get('access-control-allow-headers')?.split(',').sort()).toEqual(
      ['apollo-require-preflight', 'authorization', 'content-type', 'x-request-id'],
    );
    expect(response.headers.get('vary')).toMatch(/Origin/);
    const post = await gql(listed.url, '{ __typename }', {}, { origin: LISTED });
    expect(post.data).toEqual({ __typename: 'Query' });
  });

  it('refuses the preflight of an unlisted origin with a coded error, and gives its requests no CORS header', async () => {
    for (const [server, origin] of [
      [listed, UNLISTED],
      [unset, LISTED],
    ] as const) {
      const response = await preflight(server.url, origin);
      expect(response.status).toBe(403);
      expect(response.headers.get('access-control-allow-origin')).toBeNull();
      const body = (await response.json()) as { errors: Array<{ message: string; extensions: { code: string } }> };
      expect(body.errors[0]?.extensions.code).toBe('FORBIDDEN');
      expect(body.errors[0]?.message).toContain(origin);
      const post = await fetch(server.url, { method: 'POST', headers: { origin, 'content-type': 'application/json' }, body: '{"query":"{ __typename }"}' });
      expect(post.headers.get('access-control-allow-origin')).toBeNull();
    }
  });

  it('allows any origin with *', async () => {
    const response = await preflight(any.url, UNLISTED);
    expect(response.status).toBe(204);
    expect(response.headers.get('access-control-allow-origin')).toBe('*');
  });

  it("keeps Apollo's CSRF prevention: a GET query without a preflight-forcing header is refused", async () => {
    const url = `${any.url}?query=${encodeURIComponent('{ __typename }')}`;
    const simple = await fetch(url, { headers: { origin: UNLISTED } });
    expect(simple.status).toBe(400);
    expect(await simple.text()).toMatch(/CSRF/i);
    const forced = await fetch(url, { headers: { origin: UNLISTED, 'apollo-require-preflight': 'true' } });
    expect(forced.status).toBe(200);
  });
});
