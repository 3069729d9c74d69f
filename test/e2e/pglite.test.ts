// `npm start` on a fresh machine runs on embedded PGlite (no DATABASE_URL):
// the same SQL must work there. The other end-to-end files use the local
// Postgres server; this one always uses PGlite.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INGEST } from '../helpers/events.ts';
import { gqlData } from '../helpers/graphql.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

describe('embedded PGlite (no DATABASE_URL)', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer(null, { SESSION_GAP: '5m' });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('ingests, corrects a late event, flushes and answers queries', async () => {
    const ev = (id: string, at: string, extra: Record<string, unknown> = {}) => ({ eventId: id, userId: 'p1', name: 'page_view', timestamp: at, channelId: 'web', ...extra });
    const first = await gqlData(server.url, INGEST, {
      events: [ev('a', '2026-02-01T10:00:00Z'), ev('b', '2026-02-01T10:04:00Z', { name: 'purchase', value: 20, properties: { sku: 'x' } }), ev('c', '2026-02-01T10:12:00Z')],
    });
    expect(first['ingestEvents']).toEqual({ accepted: 3, duplicates: 0, rejected: [] });
    // 10:12 moves the watermark (minus 30 s of lateness) past 10:04 + 5 min: the first session closed then.
    expect((await gqlData(server.url, 'mutation { flushSessions { closed } }'))['flushSessions'].closed).toBe(1);
    // A late event bridges the two closed sessions: one session of four events remains.
    const late = await gqlData(server.url, INGEST, { events: [ev('d', '2026-02-01T10:08:00Z'), ev('a', '2026-02-01T10:00:00Z')] });
    expect(late['ingestEvents']).toEqual({ accepted: 1, duplicates: 1, rejected: [] });
    const data = await gqlData(
      server.url,
      '{ sessions(userId: "p1") { totalCount nodes { status startedAt endedAt eventCount totalValue converted topChannel } } engagementStats { sessions events conversionRate totalValue } }',
    );
    expect(data['sessions']).toEqual({
      totalCount: 1,
      nodes: [
        {
          status: 'CLOSED',
          startedAt: '2026-02-01T10:00:00.000Z',
          endedAt: '2026-02-01T10:12:00.000Z',
          eventCount: 4,
          totalValue: 20,
          converted: true,
          topChannel: 'web',
        },
      ],
    });
    expect(data['engagementStats']).toEqual({ sessions: 1, events: 4, conversionRate: 1, totalValue: 20 });
  });
});
