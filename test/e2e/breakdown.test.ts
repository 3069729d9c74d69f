// breakdown(dimension) against a direct SQL computation over the stored
// sessions (written here, independently: counts and rates as sums of
// CASEs over a plain list of rows), for seeded random traffic with random
// attribution; the attribution of every session against an independent
// brute-force reference (test/helpers/reference.ts); plus the channel groups
// of a small hand-checked set.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { INGEST } from '../helpers/events.ts';
import { gql, gqlData } from '../helpers/graphql.ts';
import { referenceAttribution, referenceGroups, rng, type RefEvent } from '../helpers/reference.ts';
import { allSessions } from '../helpers/sessions.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

const DIMENSIONS = {
  CHANNEL: 'top_channel',
  CHANNEL_GROUP: 'channel_group',
  UTM_SOURCE: 'utm_source',
  UTM_MEDIUM: 'utm_medium',
  UTM_CAMPAIGN: 'utm_campaign',
  REFERRER_DOMAIN: 'referrer_domain',
  ENTRY_URL: 'entry_url',
  EXIT_URL: 'exit_url',
} as const;

const URLS = [
  'https://shop.example/',
  'https://shop.example/sale?utm_source=google&utm_medium=cpc&utm_campaign=sale',
  'https://shop.example/blog?utm_source=newsletter&utm_medium=email',
  'https://shop.example/p/1',
  '/relative?utm_source=partner&utm_medium=affiliate',
];
const REFERRERS = [null, 'https://www.google.com/', 'https://m.facebook.com/', 'https://shop.example/', 'https://blog.example.org/x'];
const T0 = Date.UTC(2026, 4, 1);

const ROW = 'value sessions users events avgDurationSeconds bounceRate engagementRate conversionRate totalValue';

describe('breakdown', () => {
  let db: TestDatabase;
  let server: TestServer;
  const sent: RefEvent[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    server = await startTestServer(db.url, { SESSION_GAP: '10m', ALLOWED_LATENESS: '0s' });
    const random = rng(16);
    const pick = <T,>(list: readonly T[]): T => list[Math.floor(random() * list.length)] as T;
    const events: Array<Record<string, unknown>> = [];
    for (let u = 0; u < 60; u++) {
      let ts = T0 + Math.floor(random() * 3_600_000);
      const n = 1 + Math.floor(random() * 8);
      for (let i = 0; i < n; i++) {
        const properties: Record<string, unknown> = {};
        if (random() < 0.7) properties['url'] = pick(URLS);
        const referrer = pick(REFERRERS);
        if (referrer !== null) properties['referrer'] = referrer;
        if (random() < 0.1) properties['utm_campaign'] = pick(['spring', 'fall']);
        if (random() < 0.1) properties['context'] = { page: { url: pick(URLS), referrer: pick(REFERRERS) }, campaign: { source: 'seg', name: 'segment-campaign' } };
        const name = pick(['page_view', 'page_view', 'click', 'purchase']);
        events.push({
          eventId: `bd-${u}-${i}`,
          userId: `bd-user-${u % 45}`,
          name,
          timestamp: new Date(ts).toISOString(),
          channelId: pick(['web', 'ios', null]),
          ...(name === 'purchase' ? { value: Math.round(random() * 1000) / 10 } : {}),
          properties,
        });
        sent.push({ eventId: `bd-${u}-${i}`, userId: `bd-user-${u % 45}`, name, ts, properties });
        ts += random() < 0.2 ? 20 * 60_000 : Math.floor(random() * 5 * 60_000);
      }
    }
    const result = await gqlData(server.url, INGEST, { events });
    expect(result['ingestEvents']).toMatchObject({ accepted: events.length, rejected: [] });
  });
  afterAll(async () => {
    await server?.stop();
    await db?.drop();
  });

  /** The expected rows, by a direct computation over the stored sessions. */
  async function direct(column: string, from: string, to: string): Promise<Array<Record<string, unknown>>> {
    const rows = await server.service.database.prisma.$queryRawUnsafe<Array<Record<string, unknown>>>(
      `WITH s AS (SELECT * FROM sessions WHERE started_at >= $1::timestamptz AND started_at < $2::timestamptz)
       SELECT ${column} AS value,
         count(*)::int AS sessions,
         (SELECT count(*) FROM (SELECT DISTINCT s2.user_id FROM s AS s2 WHERE s2.${column} IS NOT DISTINCT FROM s.${column}) AS d)::int AS users,
         sum(event_count)::int AS events,
         (sum(duration_seconds) / count(*))::float8 AS "avgDurationSeconds",
         (sum(CASE WHEN bounced THEN 1 ELSE 0 END)::float8 / count(*)) AS "bounceRate",
         (sum(CASE WHEN engaged THEN 1 ELSE 0 END)::float8 / count(*)) AS "engagementRate",
         (sum(CASE WHEN converted THEN 1 ELSE 0 END)::float8 / count(*)) AS "conversionRate",
         sum(total_value)::float8 AS "totalValue"
       FROM s GROUP BY ${column}`,
      from,
      to,
    );
    // Most sessions first; ties by value in byte order, no value last.
    return rows.sort((a, b) => {
      if (a['sessions'] !== b['sessions']) return (b['sessions'] as number) - (a['sessions'] as number);
      if (a['value'] === null || b['value'] === null) return a['value'] === null ? 1 : -1;
      return Buffer.compare(Buffer.from(a['value'] as string), Buffer.from(b['value'] as string));
    });
  }

  const close = (rows: Array<Record<string, unknown>>) =>
    rows.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === 'number' ? Math.round(v * 1e9) / 1e9 : v])));

  it.each(Object.entries(DIMENSIONS))('%s equals a direct SQL computation', async (dimension, column) => {
    const from = new Date(T0).toISOString();
    const to = new Date(T0 + 2 * 3_600_000).toISOString();
    const data = await gqlData(
      server.url,
      `query($d: Dimension!, $from: DateTime, $to: DateTime) { breakdown(dimension: $d, from: $from, to: $to, limit: 500) { ${ROW} } }`,
      { d: dimension, from, to },
    );
    const expected = await direct(column, from, to);
    expect(expected.length).toBeGreaterThan(1);
    expect(close(data['breakdown'])).toEqual(close(expected));
  });

  it('gives every session the attribution of an independent brute-force reference', async () => {
    const rules = { gapMs: 600_000, maxDurationMs: 86_400_000, conversionEvents: ['purchase'], engagedMinDurationMs: 10_000, engagedMinEvents: 2 };
    const expected = referenceGroups(sent, rules).map((group) => ({ userId: group[0]?.userId, startedAt: group[0]?.ts, ...referenceAttribution(group) }));
    const stored = (await allSessions(server.url))
      .filter((s) => String(s['userId']).startsWith('bd-user-'))
      .map((s) => ({
        userId: s['userId'],
        startedAt: Date.parse(s['startedAt']),
        entryUrl: s['entryUrl'],
        exitUrl: s['exitUrl'],
        referrer: s['referrer'],
        referrerDomain: s['referrerDomain'],
        utmSource: s['utmSource'],
        utmMedium: s['utmMedium'],
        utmCampaign: s['utmCampaign'],
        utmTerm: s['utmTerm'],
        utmContent: s['utmContent'],
      }))
      .sort((a, b) => (a.userId < b.userId ? -1 : a.userId > b.userId ? 1 : a.startedAt - b.startedAt));
    expect(expected.length).toBeGreaterThan(60);
    expect(stored).toEqual(expected);
  });

  it('limits to the first rows, takes definition "default", and refuses any other definition', async () => {
    const all = await gqlData(server.url, `{ breakdown(dimension: ENTRY_URL, limit: 500) { value sessions } }`);
    const two = await gqlData(server.url, `{ breakdown(definition: "default", dimension: ENTRY_URL, limit: 2) { value sessions } }`);
    expect(two['breakdown']).toEqual(all['breakdown'].slice(0, 2));
    const unknown = await gql(server.url, `{ breakdown(definition: "mobile", dimension: CHANNEL_GROUP) { value } }`);
    expect(unknown.errors?.[0]?.extensions?.code).toBe('UNKNOWN_DEFINITION');
  });

  it('groups hand-checked sessions by channel group', async () => {
    const at = new Date(Date.UTC(2026, 5, 1)).toISOString();
    const page = (userId: string, properties: Record<string, unknown>) => ({ eventId: `cg-${userId}`, userId, name: 'page_view', timestamp: at, properties });
    await gqlData(server.url, INGEST, {
      events: [
        page('cg-1', { url: 'https://a.example/?utm_source=google&utm_medium=cpc' }),
        page('cg-2', { url: 'https://a.example/?utm_source=bing&utm_medium=ppc' }),
        page('cg-3', { url: 'https://a.example/', referrer: 'https://www.bing.com/' }),
        page('cg-4', { url: 'https://a.example/' }),
        page('cg-5', { url: 'https://a.example/', referrer: 'https://a.example/other' }),
        page('cg-6', { url: 'https://a.example/', referrer: 'https://lnkd.in/abc' }),
      ],
    });
    const data = await gqlData(
      server.url,
      `{ breakdown(dimension: CHANNEL_GROUP, from: "2026-06-01T00:00:00Z", to: "2026-06-02T00:00:00Z") { value sessions users bounceRate } }`,
    );
    expect(data['breakdown']).toEqual([
      { value: 'Direct', sessions: 2, users: 2, bounceRate: 1 },
      { value: 'Paid Search', sessions: 2, users: 2, bounceRate: 1 },
      { value: 'Organic Search', sessions: 1, users: 1, bounceRate: 1 },
      { value: 'Organic Social', sessions: 1, users: 1, bounceRate: 1 },
    ]);
  });
});
