// The Segment-compatible endpoints with the real @segment/analytics-node
// client pointed at the running service by its `host` option; raw HTTP where
// the client itself would not send (oversized requests, wrong shapes).
// Expected sessions are written by hand from the calls made.
import { Analytics } from '@segment/analytics-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { gqlData } from '../helpers/graphql.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

const WRITE_KEY = 'segment-write-key';
const READ = { authorization: 'Bearer segment-read-key' };
const T = Date.UTC(2026, 3, 1, 9, 0);
const at = (minutes: number): Date => new Date(T + minutes * 60_000);
/** Skew correction is exact to the network delay (receivedAt - sentAt): allow that much. */
const SKEW_TOLERANCE_MS = 5_000;

const FIELDS = `userId eventCount eventCounts { name count } totalValue converted startedAt version
  entryUrl exitUrl referrer referrerDomain utmSource utmMedium utmCampaign channelGroup`;

async function sessionsOf(url: string, userId: string): Promise<Array<Record<string, any>>> {
  const data = await gqlData(url, `query($u: ID!) { sessions(userId: $u, first: 50) { nodes { ${FIELDS} } } }`, { u: userId }, READ);
  return [...data['sessions'].nodes].reverse(); // oldest first
}

/** A client of the service, as an app would configure it: only host and writeKey change. */
function client(host: string, writeKey = WRITE_KEY): { analytics: Analytics; statuses: number[]; errors: unknown[] } {
  const analytics = new Analytics({ writeKey, host, flushAt: 50, flushInterval: 50, maxRetries: 0 });
  const statuses: number[] = [];
  const errors: unknown[] = [];
  analytics.on('http_response', (r) => statuses.push(r.status));
  analytics.on('error', (e) => errors.push(e));
  return { analytics, statuses, errors };
}

/**
 * The calls of the test app; the same messageIds every time for one `p`.
 * Each test takes its own prefix of users and messageIds, so that none
 * depends on another having run before it.
 */
function sendTraffic(analytics: Analytics, p = 'seg'): void {
  analytics.page({
    userId: `${p}-u1`,
    messageId: `${p}-m-u1-page`,
    name: 'Home',
    timestamp: at(0),
    properties: { url: 'https://shop.example/?utm_source=google&utm_medium=cpc&utm_campaign=spring', referrer: 'https://www.google.com/' },
  });
  analytics.track({ userId: `${p}-u1`, messageId: `${p}-m-u1-order`, event: 'Order Completed', timestamp: at(2), properties: { revenue: 42.5, url: 'https://shop.example/thanks' } });
  analytics.identify({ userId: `${p}-u1`, messageId: `${p}-m-u1-identify`, traits: { plan: 'pro' } });
  // Anonymous visitor: anonymousId is the user; url and referrer in Segment's context.page.
  analytics.page({ anonymousId: `${p}-anon-2`, messageId: `${p}-m-a2-page`, timestamp: at(0), context: { page: { url: 'https://shop.example/blog', referrer: 'https://m.facebook.com/' } } });
  analytics.screen({ anonymousId: `${p}-anon-2`, messageId: `${p}-m-a2-screen`, name: 'Settings', timestamp: at(3) });
  analytics.track({ anonymousId: `${p}-anon-2`, messageId: `${p}-m-a2-signup`, event: 'Signed Up', timestamp: at(45) });
  // Campaign in context.campaign; value from properties.value.
  analytics.track({
    userId: `${p}-u3`,
    messageId: `${p}-m-u3-purchase`,
    event: 'purchase',
    timestamp: at(1),
    properties: { value: 10 },
    context: { campaign: { source: 'newsletter', medium: 'email', name: 'december' } },
  });
  analytics.group({ userId: `${p}-u3`, messageId: `${p}-m-u3-group`, groupId: 'acme' });
  analytics.alias({ userId: `${p}-u3`, previousId: `${p}-anon-3`, messageId: `${p}-m-u3-alias` });
}

const base = (server: TestServer): string => new URL(server.url).origin;

/** The value of sessions_segment_messages_total{type, result} in a /metrics text (0 when absent). */
function segmentCount(metrics: string, type: string, result: string): number {
  const m = new RegExp(`^sessions_segment_messages_total\\{type="${type}",result="${result}"\\} (\\d+)$`, 'm').exec(metrics);
  return m === null ? 0 : Number(m[1]);
}

async function post(server: TestServer, path: string, body: unknown, headers: Record<string, string> = { authorization: `Basic ${Buffer.from(`${WRITE_KEY}:`).toString('base64')}` }) {
  const response = await fetch(`${base(server)}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: response.status, headers: response.headers, body: (await response.json()) as Record<string, any> };
}

describe('Segment-compatible ingest', () => {
  let db: TestDatabase;
  let server: TestServer;

  beforeAll(async () => {
    db = await createTestDatabase();
    server = await startTestServer(db.url, { INGEST_API_KEYS: WRITE_KEY, READ_API_KEYS: 'segment-read-key', SESSION_GAP: '30m', METRICS_API_KEY: '' });
  });
  afterAll(async () => {
    await server?.stop();
    await db?.drop();
  });

  it('turns track, page, screen and identify calls of the real client into events and sessions', async () => {
    const { analytics, statuses, errors } = client(base(server));
    const metricsBefore = await (await fetch(`${base(server)}/metrics`)).text();
    sendTraffic(analytics);
    await analytics.closeAndFlush({ timeout: 20_000 });
    expect(errors).toEqual([]);
    expect(statuses.length).toBeGreaterThan(0);
    expect(statuses.every((s) => s === 200)).toBe(true);

    const u1 = await sessionsOf(server.url, 'seg-u1');
    expect(u1).toMatchObject([
      {
        eventCount: 2,
        eventCounts: [{ name: 'Order Completed', count: 1 }, { name: 'page_view', count: 1 }],
        totalValue: 42.5,
        converted: false,
        entryUrl: 'https://shop.example/?utm_source=google&utm_medium=cpc&utm_campaign=spring',
        exitUrl: 'https://shop.example/thanks',
        referrer: 'https://www.google.com/',
        referrerDomain: 'www.google.com',
        utmSource: 'google',
        utmMedium: 'cpc',
        utmCampaign: 'spring',
        channelGroup: 'Paid Search',
      },
    ]);
    // The client's clock is the server's: transit time moves no timestamp.
    expect(u1[0]?.['startedAt']).toBe(at(0).toISOString());

    const anon = await sessionsOf(server.url, 'seg-anon-2');
    expect(anon).toMatchObject([
      {
        eventCount: 2,
        eventCounts: [{ name: 'page_view', count: 1 }, { name: 'screen_view', count: 1 }],
        entryUrl: 'https://shop.example/blog',
        referrerDomain: 'm.facebook.com',
        channelGroup: 'Organic Social',
      },
      // 42 minutes after the screen: more than the 30-minute gap.
      { eventCount: 1, eventCounts: [{ name: 'Signed Up', count: 1 }], entryUrl: null, channelGroup: 'Direct' },
    ]);

    expect(await sessionsOf(server.url, 'seg-u3')).toMatchObject([
      { eventCount: 1, totalValue: 10, converted: true, utmSource: 'newsletter', utmMedium: 'email', utmCampaign: 'december', channelGroup: 'Email' },
    ]);

    // Counted as they came (differences: other tests of this file send messages too).
    const metrics = await (await fetch(`${base(server)}/metrics`)).text();
    const added = (type: string, result: string): number => segmentCount(metrics, type, result) - segmentCount(metricsBefore, type, result);
    expect([added('identify', 'acknowledged'), added('alias', 'acknowledged'), added('track', 'ingested')]).toEqual([1, 1, 3]);
  });

  it('changes nothing when the same messageIds are sent again', async () => {
    const users = ['dup-u1', 'dup-anon-2', 'dup-u3'];
    const first = client(base(server));
    sendTraffic(first.analytics, 'dup');
    await first.analytics.closeAndFlush({ timeout: 20_000 });
    const before = await Promise.all(users.map((u) => sessionsOf(server.url, u)));
    expect(before.map((sessions) => sessions.length)).toEqual([1, 2, 1]);
    const { analytics, statuses, errors } = client(base(server));
    sendTraffic(analytics, 'dup');
    await analytics.closeAndFlush({ timeout: 20_000 });
    expect(errors).toEqual([]);
    expect(statuses.every((s) => s === 200)).toBe(true);
    const after = await Promise.all(users.map((u) => sessionsOf(server.url, u)));
    expect(after).toEqual(before);
    const raw = await post(server, '/v1/track', { userId: 'dup-u1', messageId: 'dup-m-u1-order', event: 'Order Completed', timestamp: at(2).toISOString() });
    expect(raw.body).toEqual({ success: true, accepted: 0, duplicates: 1, acknowledged: 0, rejected: [] });
  });

  it('refuses a message over 32 KB and a batch over 500 KB with a JSON 400, and keeps the rest of the traffic', async () => {
    const big = 'x'.repeat(33 * 1024);
    const single = await post(server, '/v1/track', { userId: 'seg-big', messageId: 'm-big-1', event: 'Big', properties: { big } });
    expect(single.status).toBe(400);
    expect(single.body).toMatchObject({ success: false, code: 'MESSAGE_TOO_LARGE' });

    // In a batch, the oversized message is rejected by index and the valid ones are kept.
    const mixed = await post(server, '/v1/batch', {
      batch: [
        { type: 'track', userId: 'seg-big', messageId: 'm-big-2', event: 'Big', properties: { big } },
        { type: 'track', userId: 'seg-big', messageId: 'm-small-1', event: 'Small', timestamp: at(0).toISOString() },
        { type: 'track', messageId: 'm-nouser', event: 'Orphan' },
        { type: 'bogus', userId: 'seg-big' },
      ],
    });
    expect(mixed.status).toBe(200);
    expect(mixed.body).toMatchObject({ success: true, accepted: 1, duplicates: 0 });
    expect(mixed.body['rejected'].map((r: any) => [r.index, r.code])).toEqual([
      [0, 'MESSAGE_TOO_LARGE'],
      [2, 'MISSING_FIELD'],
      [3, 'UNKNOWN_TYPE'],
    ]);

    // 20 messages of 30 KB: over 500 KB, refused whole.
    const medium = 'y'.repeat(30 * 1024);
    const batch = Array.from({ length: 20 }, (_, i) => ({ type: 'track', userId: 'seg-huge', messageId: `m-huge-${i}`, event: 'Huge', properties: { medium } }));
    const huge = await post(server, '/v1/batch', { batch });
    expect(huge.status).toBe(400);
    expect(huge.body).toMatchObject({ success: false, code: 'BATCH_TOO_LARGE' });
    expect(await sessionsOf(server.url, 'seg-huge')).toEqual([]);
    // A 30 KB message is within Segment's limit: all its properties are kept.
    const within = await post(server, '/v1/track', { userId: 'seg-within', messageId: 'm-within', event: 'Within', properties: { medium } });
    expect(within.body).toMatchObject({ success: true, accepted: 1, rejected: [] });

    // The real client sends an oversized event in its batch (its own size estimate counts
    // URI escapes, not bytes): the batch is answered 200, that event is refused, the other kept.
    const { analytics } = client(base(server));
    const delivered = (params: Parameters<Analytics['track']>[0]) =>
      new Promise<string>((resolve) => analytics.track(params, (error) => resolve(error === undefined ? 'delivered' : 'failed')));
    const outcomes = Promise.all([
      delivered({ userId: 'seg-mixed', messageId: 'm-mixed-big', event: 'Big', timestamp: at(0), properties: { big } }),
      delivered({ userId: 'seg-mixed', messageId: 'm-mixed-ok', event: 'Ok', timestamp: at(1) }),
    ]);
    await analytics.closeAndFlush({ timeout: 20_000 });
    expect(await outcomes).toEqual(['delivered', 'delivered']);
    expect(await sessionsOf(server.url, 'seg-mixed')).toMatchObject([{ eventCount: 1, eventCounts: [{ name: 'Ok', count: 1 }] }]);
    expect(await sessionsOf(server.url, 'seg-big')).toMatchObject([{ eventCount: 1, eventCounts: [{ name: 'Small', count: 1 }] }]);
  });

  it('refuses only the message of a batch nested too deeply to read, and keeps the others', async () => {
    // 20,000 levels, 120 KB: within the body limit, beyond what JSON.stringify can write back on the stack.
    const deep = `${'{"a":'.repeat(20_000)}1${'}'.repeat(20_000)}`;
    const body = `{"batch":[{"type":"track","userId":"seg-deep","messageId":"m-deep-ok","event":"Ok","timestamp":"${at(0).toISOString()}"},` +
      `{"type":"track","userId":"seg-deep","messageId":"m-deep-bad","event":"Deep","properties":${deep}}]}`;
    const answer = await post(server, '/v1/batch', body);
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ success: true, accepted: 1 });
    expect(answer.body['rejected'].map((r: any) => [r.index, r.code])).toEqual([[1, 'INVALID_MESSAGE']]);
    expect(await sessionsOf(server.url, 'seg-deep')).toMatchObject([{ eventCount: 1, eventCounts: [{ name: 'Ok', count: 1 }] }]);
  });

  it('answers 401 to a wrong or missing write key, and takes the key from Basic, Bearer or the body', async () => {
    const { analytics, statuses } = client(base(server), 'wrong-key');
    analytics.track({ userId: 'seg-denied', messageId: 'm-denied', event: 'Denied', timestamp: at(0) });
    await analytics.closeAndFlush({ timeout: 20_000 });
    expect(statuses).toEqual([401]);
    const missing = await post(server, '/v1/track', { userId: 'seg-denied', event: 'Denied' }, {});
    expect(missing.status).toBe(401);
    expect(missing.body).toMatchObject({ success: false, code: 'UNAUTHENTICATED' });
    const readKey = await post(server, '/v1/track', { userId: 'seg-denied', event: 'Denied' }, READ);
    expect(readKey.status).toBe(403);
    expect(await sessionsOf(server.url, 'seg-denied')).toEqual([]);

    const bearer = await post(server, '/v1/track', { userId: 'seg-keys', messageId: 'k1', event: 'A', timestamp: at(0).toISOString() }, { authorization: `Bearer ${WRITE_KEY}` });
    const body = await post(server, '/v1/page', { userId: 'seg-keys', messageId: 'k2', timestamp: at(1).toISOString(), writeKey: WRITE_KEY }, {});
    expect([bearer.status, body.status]).toEqual([200, 200]);
    expect(await sessionsOf(server.url, 'seg-keys')).toMatchObject([{ eventCount: 2 }]);
  });

  it("corrects the client's clock skew with sentAt, and uses originalTimestamp without timestamp", async () => {
    const hour = 3_600_000;
    // The client's clock is an hour behind: its timestamps are moved an hour forward.
    const skewed = await post(server, '/v1/batch', {
      sentAt: new Date(Date.now() - hour).toISOString(),
      batch: [{ type: 'track', userId: 'seg-skew', messageId: 'sk1', event: 'A', timestamp: at(0).toISOString() }],
    });
    const original = await post(server, '/v1/track', { userId: 'seg-orig', messageId: 'or1', event: 'A', originalTimestamp: at(0).toISOString() });
    expect([skewed.body['accepted'], original.body['accepted']]).toEqual([1, 1]);
    const [skew] = await sessionsOf(server.url, 'seg-skew');
    expect(Math.abs(Date.parse(skew?.['startedAt']) - (T + hour))).toBeLessThan(SKEW_TOLERANCE_MS);
    const [orig] = await sessionsOf(server.url, 'seg-orig');
    expect(Date.parse(orig?.['startedAt'])).toBe(T);
  });
});
