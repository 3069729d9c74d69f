/**
 * `sessions sessionize --input-format segment` on a file of Segment
 * messages as the real @segment/analytics-node client writes them (its
 * batches captured by an HTTP client of the test's, one message per line,
 * as Segment's archives hold them), run as a child process on one thread
 * and on two. Expected sessions come from the brute-force reference over
 * the calls the test made, mapped by hand as DESIGN.md says the Segment
 * endpoint maps them: track is its event, page is page_view, screen is
 * screen_view, the user is userId else anonymousId, messageId is the
 * event's id (a repeat is a duplicate), properties.revenue the value;
 * identify calls are no events.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Analytics } from '@segment/analytics-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.ts';
import { referenceSessions, rng, type RefEvent, type RefRules } from '../helpers/reference.ts';

const RULES: RefRules = { gapMs: 30_000, maxDurationMs: 86_400_000, conversionEvents: ['purchase'], engagedMinDurationMs: 10_000, engagedMinEvents: 2 };
const T0 = Date.UTC(2026, 3, 1, 9, 0);

/**
 * Calls of 60 users (a third anonymous), a second to three minutes apart,
 * made through the real client in time order (as an app makes them);
 * returns the events they are.
 */
async function track(analytics: Analytics): Promise<RefEvent[]> {
  const random = rng(5);
  const events: RefEvent[] = [];
  const calls: Array<{ ts: number; call: () => void }> = [];
  for (let u = 0; u < 60; u++) {
    const who = u % 3 === 0 ? { anonymousId: `anon-${u}` } : { userId: `user-${u}` };
    const userId = 'userId' in who ? who.userId : who.anonymousId;
    let ts = T0 + Math.floor(random() * 600) * 1000;
    for (let i = 0; i < 3 + Math.floor(random() * 12); i++) {
      const messageId = `m-${u}-${i}`;
      const timestamp = new Date(ts);
      const pick = random();
      if (pick < 0.2) {
        calls.push({ ts, call: () => analytics.page({ ...who, messageId, timestamp, name: 'Home', properties: { url: `https://shop.example/p/${i}` } }) });
        events.push({ eventId: messageId, userId, name: 'page_view', ts });
      } else if (pick < 0.3) {
        calls.push({ ts, call: () => analytics.screen({ ...who, messageId, timestamp, name: 'Settings' }) });
        events.push({ eventId: messageId, userId, name: 'screen_view', ts });
      } else if (pick < 0.4) {
        calls.push({ ts, call: () => analytics.track({ ...who, messageId, timestamp, event: 'purchase', properties: { revenue: 12.5, currency: 'EUR' } }) });
        events.push({ eventId: messageId, userId, name: 'purchase', ts, value: 12.5 });
      } else {
        const event = pick < 0.7 ? 'Product Viewed' : 'Café ☕ "added"';
        calls.push({ ts, call: () => analytics.track({ ...who, messageId, timestamp, event, properties: { sku: `sku-${i}`, tags: ['a', 'b'] } }) });
        events.push({ eventId: messageId, userId, name: event, ts });
      }
      // A retried message (a duplicate), and identify calls (no events).
      if (random() < 0.05) calls.push({ ts: ts + 500, call: () => analytics.track({ ...who, messageId, timestamp, event: 'again' }) });
      if (random() < 0.1 && 'userId' in who) {
        const known = who.userId;
        calls.push({ ts, call: () => analytics.identify({ userId: known, traits: { plan: 'pro' } }) });
      }
      const gap = random();
      ts += 1000 * (gap < 0.6 ? 1 + Math.floor(random() * 29) : gap < 0.7 ? 30 : gap < 0.8 ? 31 : 60 + Math.floor(random() * 120));
    }
  }
  for (const { call } of calls.sort((a, b) => a.ts - b.ts)) call();
  await analytics.closeAndFlush();
  return events;
}

describe('sessions sessionize --input-format segment', () => {
  let dir: string;
  let events: RefEvent[];
  let messages: Array<Record<string, unknown>>;
  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'sessions-cli-segment-'));
    const batches: Array<{ batch: Array<Record<string, unknown>> }> = [];
    const analytics = new Analytics({
      writeKey: 'file-export',
      flushAt: 100,
      maxRetries: 0,
      httpClient: {
        makeRequest: async (request) => {
          batches.push(JSON.parse(request.body) as { batch: Array<Record<string, unknown>> });
          return { status: 200, statusText: 'OK' };
        },
      },
    });
    events = await track(analytics);
    messages = batches.flatMap((b) => b.batch);
    const lines = messages.map((m) => JSON.stringify(m));
    lines.splice(10, 0, '{"type":"shout","userId":"user-1","messageId":"x","timestamp":"2026-04-01T09:00:00.000Z"}', 'not json');
    // The endpoint's limits: properties over GraphQL's 16 KiB are taken, a message over 32 KB is refused.
    const late = new Date(T0 + 3_600_000).toISOString();
    const big = (id: string, chars: number) => JSON.stringify({ type: 'track', userId: 'big', messageId: id, event: 'e', timestamp: late, properties: { blob: 'x'.repeat(chars) } });
    // Short as written, over 32 KB as JSON: 1e20 is 21 digits once written back.
    const numbers = `{"type":"track","userId":"big","messageId":"big-3","event":"e","timestamp":"${late}","context":{"n":[${Array(2_000).fill('1e20').join(',')}]}}`;
    lines.push(big('big-1', 20_000), big('big-2', 40_000), numbers);
    events.push({ eventId: 'big-1', userId: 'big', name: 'e', ts: T0 + 3_600_000 });
    writeFileSync(path.join(dir, 'segment.jsonl'), `${lines.join('\n')}\n`);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('the file holds what the client sent: every kind of call, anonymous users, repeats', () => {
    const types = new Set(messages.map((m) => m['type']));
    expect(types).toEqual(new Set(['page', 'screen', 'track', 'identify']));
    expect(messages.filter((m) => m['anonymousId'] !== undefined && m['userId'] === undefined).length).toBeGreaterThan(50);
    expect(messages.length - new Set(messages.map((m) => m['messageId'])).size).toBeGreaterThan(3);
  });

  it.each([
    ['one thread', {}],
    ['two threads', { SESSIONS_THREAD_MIN_BYTES: '0' }],
  ])('gives the reference sessions of the calls, mapped as the Segment endpoint maps them (%s)', async (_, env) => {
    const run = await runCli(['sessionize', 'segment.jsonl', '--gap', '30s', '--input-format', 'segment'], dir, { env });
    expect(run.code, run.stderr).toBe(0);
    // The two bad lines are reported by number and code; identify calls are skipped silently.
    expect(run.stderr).toContain('segment.jsonl:11: UNKNOWN_TYPE');
    expect(run.stderr).toContain('segment.jsonl:12: INVALID_JSON');
    expect(run.stderr).toContain(`segment.jsonl:${messages.length + 4}: MESSAGE_TOO_LARGE`);
    expect(run.stderr).toContain(`segment.jsonl:${messages.length + 5}: MESSAGE_TOO_LARGE`);
    expect(run.stderr).toMatch(/4 lines rejected \(MESSAGE_TOO_LARGE 2, INVALID_JSON 1, UNKNOWN_TYPE 1\)/);
    const got = run.stdout
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .map((s) => ({
        userId: s['userId'],
        startedAt: s['startedAt'],
        endedAt: s['endedAt'],
        eventCount: s['eventCount'],
        eventCounts: s['eventCounts'],
        totalValue: s['totalValue'],
        converted: s['converted'],
        firstEventName: s['firstEventName'],
        lastEventName: s['lastEventName'],
      }));
    const want = referenceSessions(events, RULES).map((s) => ({
      userId: s.userId,
      startedAt: new Date(s.startedAt).toISOString(),
      endedAt: new Date(s.endedAt).toISOString(),
      eventCount: s.eventCount,
      eventCounts: s.eventCounts,
      totalValue: s.totalValue,
      converted: s.converted,
      firstEventName: s.firstEventName,
      lastEventName: s.lastEventName,
    }));
    const key = (s: { userId: unknown; startedAt: unknown }): string => `${String(s.userId)} ${String(s.startedAt)}`;
    expect(want.length).toBeGreaterThan(100);
    expect(got.sort((a, b) => (key(a) < key(b) ? -1 : 1))).toEqual(want.sort((a, b) => (key(a) < key(b) ? -1 : 1)));
  });
});
