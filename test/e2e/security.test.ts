import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { INGEST, SESSION_FIELDS } from '../helpers/events.ts';
import { collect, gql, gqlData, wsClient } from '../helpers/graphql.ts';
import { subscriptionsReach } from '../helpers/metrics.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

const BODY_LIMIT = 262_144;

const ev = (over: Record<string, unknown> = {}) => ({
  eventId: `sec-${Math.random().toString(36).slice(2)}`,
  userId: 'sec-user',
  name: 'page_view',
  timestamp: '2026-03-01T10:00:00Z',
  ...over,
});

/** A raw HTTP request, for bodies and headers gql() would not send; the body is parsed when it is JSON. */
async function raw(url: string, init: RequestInit): Promise<{ status: number; type: string; body: any; headers: Headers }> {
  const response = await fetch(url, init);
  const type = response.headers.get('content-type') ?? '';
  const text = await response.text();
  return { status: response.status, type, body: type.includes('json') ? JSON.parse(text) : text, headers: response.headers };
}

const post = (url: string, body: string, headers: Record<string, string> = { 'content-type': 'application/json' }) =>
  raw(url, { method: 'POST', headers, body });

const codeOf = (result: { errors?: Array<{ extensions?: { code?: string } }> }) => result.errors?.[0]?.extensions?.code;

type WsError = { message: string; extensions?: { code?: string } & Record<string, unknown> };

/**
 * Runs one operation that must end over graphql-ws (a query, or an operation
 * the server refuses: graphql-ws sends its errors as one `error` message) and
 * returns its results and errors. An operation accepted as a live
 * subscription never ends: that fails after `timeoutMs`, a deadline for a
 * broken test only (a refusal on a loaded machine may take seconds).
 */
async function overWs(client: Client, query: string, timeoutMs = 30_000): Promise<{ data: unknown[]; errors: WsError[] }> {
  const run = collect(client, query);
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`not ended within ${timeoutMs} ms (accepted as a live subscription?): ${query.slice(0, 80)}`)), timeoutMs);
  });
  try {
    await Promise.race([run.ended, timedOut]);
  } finally {
    clearTimeout(timer);
    run.stop();
  }
  return { data: run.items, errors: run.errors.flat() as WsError[] };
}

// Steps on one server, in order: the last test checks that exactly the valid events of all the
// tests before were stored, and 'caps page sizes' runs before any session exists.
describe('bad input', { shuffle: false }, () => {
  let db: TestDatabase;
  let server: TestServer;
  let base: string;
  /** Users the tests below store events for; nothing else may be stored. */
  const expectedUsers = new Map<string, number>();

  beforeAll(async () => {
    db = await createTestDatabase();
    server = await startTestServer(db.url, { MAX_BATCH_SIZE: '50', BODY_LIMIT_BYTES: String(BODY_LIMIT), ALLOWED_LATENESS: '0s' });
    base = server.url.replace(/\/graphql$/, '');
  });
  afterAll(async () => {
    await server?.stop();
    await db?.drop();
  });

  async function storedEvents(userId: string): Promise<number> {
    const data = await gqlData(server.url, 'query($u: ID) { engagementStats(userId: $u) { events } }', { u: userId });
    return data['engagementStats'].events;
  }

  it('answers a malformed JSON body with 400 BAD_REQUEST as JSON', async () => {
    for (const body of ['{"query": "{ __typename }"', '{query: 1}', 'NaN', '"just a string"', '']) {
      const result = await post(server.url, body);
      expect(result.status, body).toBe(400);
      expect(result.type).toMatch(/application\/json/);
      expect(codeOf(result.body), body).toBe('BAD_REQUEST');
    }
    const empty = await post(server.url, '{}');
    expect(empty.status).toBe(400);
    expect(codeOf(empty.body)).toBe('BAD_REQUEST');
  });

  it('refuses batched operations (an array body)', async () => {
    const result = await post(server.url, JSON.stringify([{ query: '{ __typename }' }, { query: '{ __typename }' }]));
    expect(result.status).toBe(400);
    expect(result.type).toMatch(/application\/json/);
    expect(codeOf(result.body)).toBe('BAD_REQUEST');
    expect(result.body.errors[0].message).toMatch(/batch/i);
    expect(result.body.data).toBeUndefined();
  });

  it('answers an oversized body with 413 PAYLOAD_TOO_LARGE as JSON and stores none of it', async () => {
    const events = Array.from({ length: 40 }, (_, i) => ev({ userId: 'oversized', eventId: `big-${i}`, properties: { pad: 'x'.repeat(8_000) } }));
    const body = JSON.stringify({ query: INGEST, variables: { events } });
    expect(body.length).toBeGreaterThan(BODY_LIMIT);
    const result = await post(server.url, body);
    expect(result.status).toBe(413);
    expect(result.type).toMatch(/application\/json/);
    expect(codeOf(result.body)).toBe('PAYLOAD_TOO_LARGE');
    expect(result.body.errors[0].message).toMatch(/BODY_LIMIT_BYTES/);

    // The same without a content-length (chunked): cut off while streaming.
    const chunks = [body.slice(0, body.length / 2), body.slice(body.length / 2)];
    const stream = new ReadableStream({
      pull(controller) {
        const next = chunks.shift();
        if (next === undefined) controller.close();
        else controller.enqueue(new TextEncoder().encode(next));
      },
    });
    const streamed = await raw(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: stream,
      duplex: 'half',
    } as RequestInit);
    expect(streamed.status).toBe(413);
    expect(codeOf(streamed.body)).toBe('PAYLOAD_TOO_LARGE');
    expect(await storedEvents('oversized')).toBe(0);
  });

  it('answers wrong variable types with 400 BAD_USER_INPUT', async () => {
    const cases: Array<Record<string, unknown>> = [
      { events: 'not a list' },
      { events: [{ ...ev(), value: 'twelve' }] },
      { events: [{ ...ev(), userId: null }] },
      { events: [{ ...ev(), name: { nested: true } }] },
      { events: [null] },
      { events: [{ ...ev(), unknownField: 1 }] },
      {},
    ];
    for (const variables of cases) {
      const result = await gql(server.url, INGEST, variables);
      expect(result.status, JSON.stringify(variables)).toBe(400);
      expect(codeOf(result), JSON.stringify(variables)).toBe('BAD_USER_INPUT');
    }
    const page = await gql(server.url, 'query($n: Int) { sessions(first: $n) { nodes { id } } }', { n: 'ten' });
    expect(codeOf(page)).toBe('BAD_USER_INPUT');
    const huge = await gql(server.url, 'query($n: Int) { sessions(first: $n) { nodes { id } } }', { n: 1e12 });
    expect(codeOf(huge)).toBe('BAD_USER_INPUT');
    const negative = await gql(server.url, '{ sessions(first: -1) { nodes { id } } }');
    expect(codeOf(negative)).toBe('BAD_USER_INPUT');
    const badEnum = await gql(server.url, '{ topUsers(by: LOUDEST) { userId } }');
    expect(codeOf(badEnum)).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(await storedEvents('sec-user')).toBe(0);
  });

  it('caps page sizes at MAX_PAGE_SIZE instead of failing', async () => {
    const data = await gqlData(
      server.url,
      'query($n: Int) { sessions(first: $n) { nodes { id } } topUsers(limit: 1000000) { userId } topChannels(limit: $n) { channelId } }',
      { n: 1_000_000 },
    );
    expect(data['sessions'].nodes).toEqual([]);
    // Written into the document, `first` multiplies the cost of the selection (graphql-armor's cost rule).
    expect(codeOf(await gql(server.url, '{ sessions(first: 1000000) { nodes { id } } }'))).toBe('GRAPHQL_VALIDATION_FAILED');
  });

  it('rejects huge strings and payloads per event, accepting the rest of the batch', async () => {
    const events = [
      ev({ userId: 'x'.repeat(100_000) }),
      ev({ userId: 'huge-ok', name: 'n'.repeat(5_000) }),
      ev({ userId: 'huge-ok', eventId: 'e'.repeat(300) }),
      ev({ userId: 'huge-ok', channelId: 'c'.repeat(257) }),
      ev({ userId: 'huge-ok', properties: { list: Array.from({ length: 5_000 }, (_, i) => i) } }),
      ev({ userId: 'huge-ok', eventId: 'huge-ok-1', properties: { page: '/' } }),
    ];
    const data = await gqlData(server.url, INGEST, { events });
    expect(data['ingestEvents'].accepted).toBe(1);
    expect(data['ingestEvents'].rejected.map((r: any) => [r.index, r.code])).toEqual([
      [0, 'FIELD_TOO_LONG'],
      [1, 'FIELD_TOO_LONG'],
      [2, 'FIELD_TOO_LONG'],
      [3, 'FIELD_TOO_LONG'],
      [4, 'PROPERTIES_TOO_LARGE'],
    ]);
    // Messages quote no more than a prefix of the input.
    for (const r of data['ingestEvents'].rejected) expect(r.message.length).toBeLessThan(200);
    expectedUsers.set('huge-ok', 1);
  });

  it('refuses a huge array whole with BATCH_TOO_LARGE and stores nothing', async () => {
    const events = Array.from({ length: 2_000 }, (_, i) => ev({ userId: 'huge-array', eventId: `ha-${i}` }));
    const result = await gql(server.url, INGEST, { events });
    expect(codeOf(result)).toBe('BATCH_TOO_LARGE');
    expect(result.errors?.[0]?.extensions?.['maxBatchSize']).toBe(50);
    expect(await storedEvents('huge-array')).toBe(0);
  });

  it('rejects text Postgres cannot store per event, and keeps the rest of the batch', async () => {
    const events = [
      ev({ userId: 'nul\u0000user' }),
      ev({ userId: 'unstorable', name: 'lone\ud800surrogate' }),
      ev({ userId: 'unstorable', properties: { note: 'a\u0000b' } }),
      ev({ userId: 'unstorable', properties: { ['k\udc00']: 1 } }),
      ev({ userId: 'unstorable', name: 'emoji \u{1F600} is fine', properties: { s: '\u{1F600}' } }),
    ];
    const result = await gqlData(server.url, `mutation($e: [EventInput!]!) { ingestEvents(events: $e) { accepted rejected { index code message } } }`, { e: events });
    expect(result['ingestEvents'].accepted).toBe(1);
    expect(result['ingestEvents'].rejected.map((r: any) => [r.index, r.code])).toEqual([
      [0, 'INVALID_FIELD'],
      [1, 'INVALID_FIELD'],
      [2, 'INVALID_FIELD'],
      [3, 'INVALID_FIELD'],
    ]);
    expect(result['ingestEvents'].rejected[0].message).toMatch(/userId contains a NUL character/);
    expect(await storedEvents('unstorable')).toBe(1);
    expectedUsers.set('unstorable', 1);
  });

  it('rejects NaN and Infinity wherever they can be written', async () => {
    // JSON has no NaN/Infinity: the body does not parse.
    const body = `{"query": ${JSON.stringify(INGEST)}, "variables": {"events": [{"userId": "nan", "name": "x", "timestamp": "2026-03-01T10:00:00Z", "value": NaN}]}}`;
    expect(codeOf((await post(server.url, body)).body)).toBe('BAD_REQUEST');
    // A number too large for a double parses to Infinity in JSON: Float refuses it.
    const inf = `{"query": ${JSON.stringify(INGEST)}, "variables": {"events": [{"userId": "nan", "name": "x", "timestamp": "2026-03-01T10:00:00Z", "value": 1e999}]}}`;
    const infResult = await post(server.url, inf);
    expect(infResult.status).toBe(400);
    expect(codeOf(infResult.body)).toBe('BAD_USER_INPUT');
    // As GraphQL literals NaN and Infinity are enum-like names, not floats.
    for (const literal of ['NaN', 'Infinity', '-Infinity']) {
      const result = await gql(
        server.url,
        `mutation { ingestEvent(event: { userId: "nan", name: "x", timestamp: "2026-03-01T10:00:00Z", value: ${literal} }) { accepted } }`,
      );
      expect(['GRAPHQL_VALIDATION_FAILED', 'GRAPHQL_PARSE_FAILED'], literal).toContain(codeOf(result));
    }
    // A literal that overflows a double is rejected per event.
    const overflow = await gqlData(
      server.url,
      'mutation { ingestEvent(event: { userId: "nan", name: "x", timestamp: "2026-03-01T10:00:00Z", value: 1e400 }) { accepted rejected { code } } }',
    );
    expect(overflow['ingestEvent']).toEqual({ accepted: 0, rejected: [{ code: 'VALUE_NOT_FINITE' }] });
    expect(await storedEvents('nan')).toBe(0);
  });

  /** An ingest body whose one event has properties nested `depth` arrays deep (JSON.stringify would overflow the stack). */
  function deepPropertiesBody(depth: number): string {
    const event = JSON.stringify(ev({ userId: 'deep-json' })).slice(0, -1);
    return `{"query": ${JSON.stringify(INGEST)}, "variables": {"events": [${event}, "properties": ${'['.repeat(depth)}1${']'.repeat(depth)}}]}}`;
  }

  it('survives deeply nested properties and stores nothing of them', async () => {
    const result = await post(server.url, deepPropertiesBody(20_000));
    expect(result.body.data['ingestEvents'].rejected.map((r: any) => r.code)).toEqual(['PROPERTIES_TOO_LARGE']);
    expect(result.body.data['ingestEvents'].rejected[0].message).toMatch(/nested deeper than 32/);
    expect(await storedEvents('deep-json')).toBe(0);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
  });

  it('rejects invalid and unknown time zones with INVALID_TIME_ZONE', async () => {
    const series = (zone: string) =>
      gql(server.url, 'query($z: String) { engagementSeries(from: "2026-03-01T00:00:00Z", to: "2026-03-03T00:00:00Z", interval: DAY, timeZone: $z) { start } }', {
        z: zone,
      });
    for (const zone of ['Mars/Olympus', '+01:00', 'UTC+1', "UTC'; DROP TABLE sessions; --", '../../etc/passwd', 'Factory', 'z'.repeat(100_000)]) {
      const result = await series(zone);
      expect(codeOf(result), zone.slice(0, 40)).toBe('INVALID_TIME_ZONE');
      expect(result.errors?.[0]?.message.length).toBeLessThan(200);
    }
    // Names Intl knows under another spelling or as old links work (Postgres gets the canonical name).
    for (const zone of ['europe/paris', 'US/Pacific-New', 'Asia/Calcutta', 'Etc/GMT+5', 'UTC']) {
      const result = await series(zone);
      expect(result.errors, zone).toBeUndefined();
      expect(result.data?.['engagementSeries'].length).toBeGreaterThanOrEqual(2);
    }
  });

  it('refuses deep, wide, aliased, directive-heavy and token-heavy documents before running them', async () => {
    const deep = `{ ${'... on Query { '.repeat(12)}__typename${' }'.repeat(12)} }`;
    const depth = await gql(server.url, deep);
    expect(depth.status).toBe(400);
    expect(codeOf(depth)).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(depth.errors?.[0]?.message).toMatch(/depth limit of 8 exceeded.*MAX_QUERY_DEPTH/);

    const introspection = await gql(server.url, '{ __schema { types { fields { type { fields { type { fields { name } } } } } } } }');
    expect(codeOf(introspection)).toBe('GRAPHQL_VALIDATION_FAILED');

    const wide = `{ ${[1, 2, 3].map((i) => `p${i}: sessions(first: 500) { nodes { ${SESSION_FIELDS} } }`).join(' ')} }`;
    const cost = await gql(server.url, wide);
    expect(codeOf(cost)).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(cost.errors?.[0]?.message).toMatch(/Cost limit of 100000 exceeded.*MAX_QUERY_COST/);
    expect((await gql(server.url, `{ sessions(first: 500) { nodes { ${SESSION_FIELDS} } } }`)).errors).toBeUndefined();

    const aliases = `{ ${Array.from({ length: 1_000 }, (_, i) => `a${i}: topChannels { channelId }`).join(' ')} }`;
    const flood = await gql(server.url, aliases);
    expect(codeOf(flood)).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(flood.errors?.[0]?.message).toMatch(/Aliases limit of 15 exceeded.*MAX_QUERY_ALIASES/);
    expect(flood.errors).toHaveLength(1);

    const directives = `{ ${Array.from({ length: 60 }, (_, i) => `f${i % 10}: __typename @include(if: true)`).join(' ')} }`;
    const directive = await gql(server.url, directives);
    expect(codeOf(directive)).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(directive.errors?.map((e) => e.message).join(' ')).toMatch(/MAX_QUERY_DIRECTIVES/);

    const tokens = `{ ${'__typename '.repeat(20_000)}}`;
    const parse = await gql(server.url, tokens);
    expect(parse.status).toBe(400);
    expect(codeOf(parse)).toBe('GRAPHQL_PARSE_FAILED');
    expect(parse.errors?.[0]?.message).toMatch(/more that 10000 tokens/);

    const comments = `{ __typename ${'#\n'.repeat(20_000)}}`;
    expect(codeOf(await gql(server.url, comments))).toBe('GRAPHQL_PARSE_FAILED');
  });

  it('applies the same limits over WebSocket, with the same codes, and keeps the connection', async () => {
    const client = wsClient(server.wsUrl);
    try {
      const deep = await overWs(client, `subscription { ${'... on Subscription { '.repeat(12)}sessionStarted { id }${' }'.repeat(12)} }`);
      expect(deep.errors.map((e) => e.extensions?.code)).toEqual(['GRAPHQL_VALIDATION_FAILED']);
      expect(deep.errors[0]?.message).toMatch(/depth limit of 8 exceeded.*MAX_QUERY_DEPTH/);

      const aliases = await overWs(client, `subscription { sessionStarted { ${Array.from({ length: 1_000 }, (_, i) => `a${i}: id`).join(' ')} } }`);
      expect(aliases.errors).toHaveLength(1);
      expect(aliases.errors[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
      expect(aliases.errors[0]?.message).toMatch(/Aliases limit of 15 exceeded.*MAX_QUERY_ALIASES/);

      const directives = await overWs(client, `subscription { sessionStarted { ${Array.from({ length: 60 }, () => 'id @include(if: true)').join(' ')} } }`);
      expect(directives.errors.map((e) => e.extensions?.code)).toContain('GRAPHQL_VALIDATION_FAILED');
      expect(directives.errors.map((e) => e.message).join(' ')).toMatch(/MAX_QUERY_DIRECTIVES/);

      const wide = `{ ${[1, 2, 3].map((i) => `p${i}: sessions(first: 500) { nodes { ${SESSION_FIELDS} } }`).join(' ')} }`;
      const cost = await overWs(client, wide);
      expect(cost.errors[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
      expect(cost.errors[0]?.message).toMatch(/Cost limit of 100000 exceeded.*MAX_QUERY_COST/);
      expect(cost.data).toEqual([]);

      const tokens = await overWs(client, `subscription { sessionStarted { ${'id '.repeat(20_000)}} }`);
      expect(tokens.errors.map((e) => e.extensions?.code)).toEqual(['GRAPHQL_PARSE_FAILED']);
      expect(tokens.errors[0]?.message).toMatch(/more that 10000 tokens/);
      const comments = await overWs(client, `subscription { sessionStarted { id ${'#\n'.repeat(20_000)}} }`);
      expect(comments.errors[0]?.extensions?.code).toBe('GRAPHQL_PARSE_FAILED');

      const typo = await overWs(client, 'subscription { sessionStarted { idd } }');
      expect(typo.errors[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
      expect(typo.errors[0]?.message).not.toMatch(/Did you mean/);

      const twoOperations = await overWs(client, 'subscription A { sessionStarted { id } } subscription B { sessionClosed { id } }');
      expect(twoOperations.errors[0]?.extensions?.code).toBe('OPERATION_RESOLUTION_FAILURE');

      // The connection is still usable: an operation within the limits runs.
      const live = collect(client, `subscription { sessionStarted(userId: "ws-limits") { userId eventCount } }`);
      // The refused operations above never registered: this one is the only live subscription.
      await subscriptionsReach(server.service, 1);
      await gqlData(server.url, INGEST, { events: [ev({ userId: 'ws-limits' })] });
      expectedUsers.set('ws-limits', 1);
      expect(await live.waitFor(1)).toEqual([{ userId: 'ws-limits', eventCount: 1 }]);
      expect((await overWs(client, '{ __typename }')).data).toEqual(['Query']);
    } finally {
      await client.dispose();
    }
  });

  it('does not spell out the schema in error hints', async () => {
    const result = await gql(server.url, '{ sesions { nodes { id } } }');
    expect(codeOf(result)).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(result.errors?.[0]?.message).not.toMatch(/Did you mean/);
  });

  it('keeps CSRF prevention on: GET and simple POST requests without a preflight header are refused', async () => {
    const query = encodeURIComponent('{ __typename }');
    const get = await raw(`${server.url}?query=${query}`, { method: 'GET' });
    expect(get.status).toBe(400);
    expect(JSON.stringify(get.body)).toMatch(/Cross-Site Request Forgery/);
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
      const simple = await post(server.url, JSON.stringify({ query: '{ __typename }' }), { 'content-type': type });
      expect(simple.status, type).toBe(400);
      expect(JSON.stringify(simple.body), type).toMatch(/Cross-Site Request Forgery/);
    }
    const noType = await raw(server.url, { method: 'POST', body: new Blob([JSON.stringify({ query: '{ __typename }' })]) });
    expect(noType.status).toBe(400);
    // A header a browser cannot send without a preflight lets GET through; mutations still need POST.
    const preflighted = await raw(`${server.url}?query=${query}`, { headers: { 'apollo-require-preflight': 'true' } });
    expect(preflighted.status).toBe(200);
    expect(preflighted.body).toEqual({ data: { __typename: 'Query' } });
    const mutation = encodeURIComponent('mutation { flushSessions { closed } }');
    const getMutation = await raw(`${server.url}?query=${mutation}`, { headers: { 'apollo-require-preflight': 'true' } });
    expect(getMutation.status).toBe(405);
  });

  it('answers unknown paths with a JSON 404', async () => {
    const result = await raw(`${base}/nope`, { method: 'GET' });
    expect(result.status).toBe(404);
    expect(codeOf(result.body)).toBe('NOT_FOUND');
  });

  it('echoes a usable x-request-id and generates one otherwise', async () => {
    const given = await fetch(`${base}/healthz`, { headers: { 'x-request-id': 'abc-123' } });
    expect(given.headers.get('x-request-id')).toBe('abc-123');
    const generated = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ __typename }' }),
    });
    expect(generated.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    const unusable = await fetch(`${base}/healthz`, { headers: { 'x-request-id': `bad id\t${'x'.repeat(300)}` } });
    expect(unusable.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    const refused = await fetch(server.url, { method: 'POST', headers: { 'content-type': 'application/json', 'x-request-id': 'r-413' }, body: '{' });
    expect(refused.headers.get('x-request-id')).toBe('r-413');
  });

  it('is still up and stored exactly the valid events', async () => {
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    const data = await gqlData(server.url, INGEST, { events: [ev({ userId: 'after', eventId: 'after-1' })] });
    expect(data['ingestEvents'].accepted).toBe(1);
    expectedUsers.set('after', 1);
    const users = await gqlData(server.url, '{ topUsers(limit: 100) { userId events } }');
    const stored = Object.fromEntries(users['topUsers'].map((u: any) => [u.userId, u.events]));
    expect(stored).toEqual(Object.fromEntries(expectedUsers));
  });
});

const KEYS = {
  INGEST_API_KEYS: 'ingest-key-1,ingest-key-2',
  READ_API_KEYS: 'read-key-1, read-key-2',
  ADMIN_API_KEYS: 'admin-key-1,admin-key-2',
};
type Outcome = 'ok' | 'UNAUTHENTICATED' | 'FORBIDDEN';
const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

/** Every operation of the API with the role it needs. */
const OPERATIONS: Array<{ name: string; role: 'read' | 'ingest' | 'admin'; query: string; variables?: () => Record<string, unknown> }> = [
  { name: 'session', role: 'read', query: '{ session(id: "00000000-0000-0000-0000-000000000000") { id } }' },
  { name: 'sessions', role: 'read', query: '{ sessions { nodes { id } } }' },
  { name: 'engagementStats', role: 'read', query: '{ engagementStats { sessions } }' },
  {
    name: 'engagementSeries',
    role: 'read',
    query: '{ engagementSeries(from: "2026-03-01T00:00:00Z", to: "2026-03-02T00:00:00Z", interval: DAY) { start } }',
  },
  { name: 'topChannels', role: 'read', query: '{ topChannels { channelId } }' },
  { name: 'topUsers', role: 'read', query: '{ topUsers { userId } }' },
  { name: 'ingestEvents', role: 'ingest', query: INGEST, variables: () => ({ events: [ev({ userId: 'role-check' })] }) },
  {
    name: 'ingestEvent',
    role: 'ingest',
    query: 'mutation($e: EventInput!) { ingestEvent(event: $e) { accepted } }',
    variables: () => ({ e: ev({ userId: 'role-check' }) }),
  },
  { name: 'flushSessions', role: 'admin', query: 'mutation { flushSessions(before: "2000-01-01T00:00:00Z") { closed } }' },
];

function expected(callerRole: 'none' | 'read' | 'ingest' | 'admin', needed: 'read' | 'ingest' | 'admin'): Outcome {
  if (callerRole === 'none') return 'UNAUTHENTICATED';
  return callerRole === 'admin' || callerRole === needed ? 'ok' : 'FORBIDDEN';
}

const CALLERS: Array<{ label: string; role: 'none' | 'read' | 'ingest' | 'admin'; headers: Record<string, string> }> = [
  { label: 'no key', role: 'none', headers: {} },
  { label: 'wrong key', role: 'none', headers: bearer('not-a-key') },
  { label: 'basic auth', role: 'none', headers: { authorization: 'Basic aW5nZXN0LWtleS0xOg==' } },
  { label: 'empty bearer', role: 'none', headers: { authorization: 'Bearer ' } },
  { label: 'ingest key 1', role: 'ingest', headers: bearer('ingest-key-1') },
  { label: 'ingest key 2', role: 'ingest', headers: bearer('ingest-key-2') },
  { label: 'read key 1', role: 'read', headers: bearer('read-key-1') },
  { label: 'read key 2 (lower-case scheme)', role: 'read', headers: { authorization: 'bearer read-key-2' } },
  { label: 'admin key 1', role: 'admin', headers: bearer('admin-key-1') },
  { label: 'admin key 2', role: 'admin', headers: bearer('admin-key-2') },
];

// In order: 'stored only the events of callers with the ingest role' counts what the HTTP role tests before it stored.
describe('roles', { shuffle: false }, () => {
  let db: TestDatabase;
  let server: TestServer;
  const clients: Client[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    server = await startTestServer(db.url, KEYS);
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.dispose()));
    await server?.stop();
    await db?.drop();
  });

  it.each(CALLERS)('gives $label exactly the operations of its role (HTTP)', async ({ role, headers }) => {
    for (const op of OPERATIONS) {
      const result = await gql(server.url, op.query, op.variables?.() ?? {}, headers);
      const want = expected(role, op.role);
      // Field errors: Apollo answers 200 with the coded error and no data for the field.
      expect(result.status, op.name).toBe(200);
      if (want === 'ok') expect(result.errors, op.name).toBeUndefined();
      else {
        expect(codeOf(result), op.name).toBe(want);
        expect(result.data?.[op.name] ?? null, op.name).toBeNull();
      }
    }
  });

  it('stored only the events of callers with the ingest role', async () => {
    const data = await gqlData(server.url, '{ engagementStats(userId: "role-check") { events } }', {}, bearer('read-key-1'));
    // Two ingest keys + two admin keys, two mutations each.
    expect(data['engagementStats'].events).toBe(8);
  });

  it.each(CALLERS)('lets $label introspect only with the read role (refused before execution)', async ({ role, headers }) => {
    for (const query of ['{ __schema { queryType { name } } }', '{ __type(name: "Session") { name } }', 'query { ...F } fragment F on Query { __schema { types { name } } }']) {
      const result = await gql(server.url, query, {}, headers);
      const want = expected(role, 'read');
      if (want === 'ok') {
        expect(result.status).toBe(200);
        expect(result.errors).toBeUndefined();
      } else {
        expect(result.status).toBe(want === 'UNAUTHENTICATED' ? 401 : 403);
        expect(codeOf(result)).toBe(want);
        expect(result.data).toBeUndefined();
      }
    }
    // __typename reveals nothing: anyone may ask.
    expect((await gql(server.url, '{ __typename }', {}, headers)).data).toEqual({ __typename: 'Query' });
  });

  it('lets only read and admin keys introspect over WebSocket (refused before execution)', async () => {
    const queries = ['{ __schema { queryType { name } } }', '{ __type(name: "Session") { name } }', 'query { ...F } fragment F on Query { __schema { types { name } } }'];
    for (const [key, role] of [['read-key-2', 'read'], ['admin-key-1', 'admin'], ['ingest-key-1', 'ingest']] as const) {
      const client = wsClient(server.wsUrl, { authorization: `Bearer ${key}` });
      clients.push(client);
      for (const query of queries) {
        const result = await overWs(client, query);
        if (expected(role, 'read') === 'ok') {
          expect(result.errors, `${key} ${query}`).toEqual([]);
          expect(result.data, `${key} ${query}`).toHaveLength(1);
        } else {
          expect(result.errors.map((e) => e.extensions?.code), `${key} ${query}`).toEqual(['FORBIDDEN']);
          expect(result.data).toEqual([]);
        }
      }
      expect((await overWs(client, '{ __typename }')).data).toEqual(['Query']);
    }
  });

  it('closes a WebSocket without a valid key with 4403', async () => {
    for (const params of [{}, { authorization: 'Bearer not-a-key' }, { authorization: 42 }]) {
      const closed = new Promise<number>((resolve) => {
        const client = createClient({
          url: server.wsUrl,
          webSocketImpl: WebSocket,
          connectionParams: params,
          retryAttempts: 0,
          lazy: false,
          onNonLazyError: () => undefined, // the refusal is what this test waits for
          on: { closed: (event) => resolve((event as { code: number }).code) },
        });
        clients.push(client);
      });
      const code = await closed;
      expect(code, JSON.stringify(params)).toBe(4403);
    }
  });

  it('lets read and admin keys subscribe, refuses an ingest key with FORBIDDEN', async () => {
    const subscription = 'subscription { sessionStarted(userId: "ws-role") { userId eventCount } }';
    const readers = ['read-key-1', 'read-key-2', 'admin-key-1', 'admin-key-2'].map((key) => {
      const client = wsClient(server.wsUrl, { authorization: `Bearer ${key}` });
      clients.push(client);
      return collect(client, subscription);
    });
    const ingestClient = wsClient(server.wsUrl, { authorization: 'Bearer ingest-key-2' });
    clients.push(ingestClient);
    const refused = collect(ingestClient, subscription);
    await refused.ended;
    expect(JSON.stringify(refused.errors)).toMatch(/FORBIDDEN/);
    // The four readers are registered (the refused one never was) before the event is sent.
    await subscriptionsReach(server.service, readers.length);
    await gqlData(server.url, INGEST, { events: [ev({ userId: 'ws-role', timestamp: '2026-03-02T10:00:00Z' })] }, bearer('ingest-key-1'));
    for (const reader of readers) {
      expect(await reader.waitFor(1)).toEqual([{ userId: 'ws-role', eventCount: 1 }]);
      reader.stop();
    }
  });
});
