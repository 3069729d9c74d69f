// Attribution of sessions built through the real service from page events
// with utm parameters and referrers; every expected value is written by hand
// from docs/attribution.md. A late event that becomes a session's new first
// event goes through the correction path (recomputed from stored events).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, openTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { INGEST } from '../helpers/events.ts';
import { gqlData } from '../helpers/graphql.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

const ATTRIBUTION = `entryUrl exitUrl referrer referrerDomain utmSource utmMedium utmCampaign utmTerm utmContent channelGroup`;

const at = (minute: number): string => new Date(Date.UTC(2026, 2, 2, 10, minute)).toISOString();

const page = (userId: string, eventId: string, minute: number, properties: Record<string, unknown> | null) => ({
  eventId,
  userId,
  name: 'page_view',
  timestamp: at(minute),
  ...(properties === null ? {} : { properties }),
});

const NONE = { entryUrl: null, exitUrl: null, referrer: null, referrerDomain: null, utmSource: null, utmMedium: null, utmCampaign: null, utmTerm: null, utmContent: null };

async function sessionsOf(url: string, userId: string): Promise<Array<Record<string, unknown>>> {
  const data = await gqlData(url, `query($u: ID!) { sessions(userId: $u) { nodes { eventCount version ${ATTRIBUTION} } } }`, { u: userId });
  return data['sessions'].nodes;
}

describe('session attribution', () => {
  let db: TestDatabase;
  let server: TestServer;

  beforeAll(async () => {
    db = await createTestDatabase();
    server = await startTestServer(db.url, { SESSION_GAP: '30m', ALLOWED_LATENESS: '1s' });
  });
  afterAll(async () => {
    await server?.stop();
    await db?.drop();
  });

  it('gives each session its entry and exit url, referrer, utm and channel group', async () => {
    const events = [
      // Paid search: utm in the landing url's query; the second page is referred internally.
      page('paid', 'paid-1', 0, { url: 'https://shop.example/landing?utm_source=google&utm_medium=cpc&utm_campaign=spring&utm_term=shoes', referrer: 'https://www.google.com/' }),
      page('paid', 'paid-2', 5, { url: 'https://shop.example/pricing', referrer: 'https://shop.example/landing' }),
      { eventId: 'paid-3', userId: 'paid', name: 'purchase', timestamp: at(6), value: 30, properties: { sku: 'A1' } },
      // Organic social by referrer alone.
      page('social', 'social-1', 0, { url: 'https://shop.example/', referrer: 'https://m.facebook.com/' }),
      // An internal referrer is no referrer domain: Direct.
      page('internal', 'internal-1', 0, { url: 'https://shop.example/b', referrer: 'https://shop.example/a' }),
      // Explicit utm properties win over the url's query.
      page('mail', 'mail-1', 0, { url: 'https://shop.example/?utm_source=ignored', utm_source: 'newsletter', utm_medium: 'email', utm_content: 'header' }),
      // Search engine referrer without utm, url given as Segment's context.page.
      page('search', 'search-1', 0, { context: { page: { url: 'https://shop.example/guide', referrer: 'https://duckduckgo.com/' } } }),
      // Another site's referrer.
      page('ref', 'ref-1', 0, { url: 'https://shop.example/post', referrer: 'https://blog.example.org/review' }),
      // utm only on a later event of the session; the entry has none.
      page('lateutm', 'lateutm-1', 0, { url: 'https://shop.example/one' }),
      page('lateutm', 'lateutm-2', 3, { url: 'https://shop.example/two?utm_source=partner&utm_medium=affiliate' }),
      // No attribution at all.
      page('direct', 'direct-1', 0, null),
    ];
    const result = await gqlData(server.url, INGEST, { events });
    expect(result['ingestEvents']).toMatchObject({ accepted: events.length, rejected: [] });

    expect(await sessionsOf(server.url, 'paid')).toEqual([
      {
        eventCount: 3,
        version: 1,
        entryUrl: 'https://shop.example/landing?utm_source=google&utm_medium=cpc&utm_campaign=spring&utm_term=shoes',
        exitUrl: 'https://shop.example/pricing',
        referrer: 'https://www.google.com/',
        referrerDomain: 'www.google.com',
        utmSource: 'google',
        utmMedium: 'cpc',
        utmCampaign: 'spring',
        utmTerm: 'shoes',
        utmContent: null,
        channelGroup: 'Paid Search',
      },
    ]);
    const one = (url: string, extra: Record<string, unknown>) => ({ eventCount: 1, version: 1, ...NONE, entryUrl: url, exitUrl: url, ...extra });
    expect(await sessionsOf(server.url, 'social')).toEqual([
      one('https://shop.example/', { referrer: 'https://m.facebook.com/', referrerDomain: 'm.facebook.com', channelGroup: 'Organic Social' }),
    ]);
    expect(await sessionsOf(server.url, 'internal')).toEqual([
      one('https://shop.example/b', { referrer: 'https://shop.example/a', channelGroup: 'Direct' }),
    ]);
    expect(await sessionsOf(server.url, 'mail')).toEqual([
      one('https://shop.example/?utm_source=ignored', { utmSource: 'newsletter', utmMedium: 'email', utmContent: 'header', channelGroup: 'Email' }),
    ]);
    expect(await sessionsOf(server.url, 'search')).toEqual([
      one('https://shop.example/guide', { referrer: 'https://duckduckgo.com/', referrerDomain: 'duckduckgo.com', channelGroup: 'Organic Search' }),
    ]);
    expect(await sessionsOf(server.url, 'ref')).toEqual([
      one('https://shop.example/post', { referrer: 'https://blog.example.org/review', referrerDomain: 'blog.example.org', channelGroup: 'Referral' }),
    ]);
    expect(await sessionsOf(server.url, 'lateutm')).toEqual([
      {
        eventCount: 2,
        version: 1,
        ...NONE,
        entryUrl: 'https://shop.example/one',
        exitUrl: 'https://shop.example/two?utm_source=partner&utm_medium=affiliate',
        utmSource: 'partner',
        utmMedium: 'affiliate',
        channelGroup: 'Affiliates',
      },
    ]);
    expect(await sessionsOf(server.url, 'direct')).toEqual([{ eventCount: 1, version: 1, ...NONE, channelGroup: 'Direct' }]);
  });

  it('shows the same attribution in analytics.sessions, the BI view', async () => {
    // Sessions of its own (whatever else the file's other tests stored), with and without attribution.
    await gqlData(server.url, INGEST, {
      events: [
        page('bi-1', 'bi-1a', 0, { url: 'https://shop.example/?utm_source=news&utm_medium=email&utm_campaign=dec', referrer: 'https://mail.example/' }),
        page('bi-1', 'bi-1b', 3, { url: 'https://shop.example/cart' }),
        page('bi-2', 'bi-2a', 1, { url: 'https://shop.example/p/1', referrer: 'https://www.google.com/search?q=x' }),
        page('bi-3', 'bi-3a', 2, null),
        page('bi-4', 'bi-4a', 2, { url: '/pricing?utm_source=x&utm_term=t&utm_content=c' }),
      ],
    });
    const all = await gqlData(server.url, `{ sessions(first: 500) { nodes { id userId ${ATTRIBUTION} } } }`);
    const nodes = (all['sessions'].nodes as Array<Record<string, unknown>>).map(({ userId, ...node }) => node);
    expect((all['sessions'].nodes as Array<{ userId: string }>).filter((n) => n.userId.startsWith('bi-'))).toHaveLength(4);
    const database = await openTestDatabase(db.url);
    try {
      const rows = await database.prisma.$queryRawUnsafe<Array<Record<string, unknown>>>(
        `SELECT id::text AS id, entry_url AS "entryUrl", exit_url AS "exitUrl", referrer, referrer_domain AS "referrerDomain",
                utm_source AS "utmSource", utm_medium AS "utmMedium", utm_campaign AS "utmCampaign", utm_term AS "utmTerm",
                utm_content AS "utmContent", channel_group AS "channelGroup"
         FROM analytics.sessions`,
      );
      const byId = (list: Array<Record<string, unknown>>) => [...list].sort((a, b) => String(a['id']).localeCompare(String(b['id'])));
      expect(byId(rows)).toEqual(byId(nodes));
    } finally {
      await database.close();
    }
  });

  it('recomputes the entry fields from stored events when a late event becomes the first one', async () => {
    await gqlData(server.url, INGEST, {
      events: [
        page('late', 'late-2', 10, { url: 'https://shop.example/second', referrer: 'https://news.ycombinator.com/item?id=1' }),
        page('late', 'late-3', 12, { url: 'https://shop.example/third' }),
      ],
    });
    expect(await sessionsOf(server.url, 'late')).toMatchObject([
      { eventCount: 2, entryUrl: 'https://shop.example/second', referrerDomain: 'news.ycombinator.com', channelGroup: 'Organic Social' },
    ]);
    // Another user's event two hours later moves the watermark past the session's end: it closes.
    await gqlData(server.url, INGEST, { events: [page('clock', 'clock-1', 120, null)] });
    const closed = await gqlData(server.url, `{ sessions(userId: "late") { nodes { status closeReason } } }`);
    expect(closed['sessions'].nodes).toEqual([{ status: 'CLOSED', closeReason: 'INACTIVITY' }]);

    // Far behind the watermark (beyond ALLOWED_LATENESS) and before the session's first event.
    const late = await gqlData(server.url, INGEST, {
      events: [page('late', 'late-1', 2, { url: 'https://shop.example/welcome?utm_source=bing&utm_medium=paid', referrer: 'https://www.bing.com/' })],
    });
    expect(late['ingestEvents']).toMatchObject({ accepted: 1 });
    const [session] = await sessionsOf(server.url, 'late');
    expect(session).toEqual({
      eventCount: 3,
      version: expect.any(Number),
      entryUrl: 'https://shop.example/welcome?utm_source=bing&utm_medium=paid',
      exitUrl: 'https://shop.example/third',
      referrer: 'https://www.bing.com/',
      referrerDomain: 'www.bing.com',
      utmSource: 'bing',
      utmMedium: 'paid',
      utmCampaign: null,
      utmTerm: null,
      utmContent: null,
      channelGroup: 'Paid Search',
    });
    expect(session?.['version']).toBeGreaterThan(2);
  });
});
