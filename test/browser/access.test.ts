import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, openWatchedPage, originOf, type WatchedPage } from '../helpers/browser.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { INGEST } from '../helpers/events.ts';
import { gqlData } from '../helpers/graphql.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

const READ_KEY = 'access-read-key';
const INGEST_KEY = 'access-ingest-key';
const DEADLINE_MS = 10_000;

/** A tiny page on another origin (another port), as a frontend app would be. */
async function startOtherOrigin(): Promise<{ origin: string; close(): Promise<void> }> {
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>another origin</title><p>frontend</p>');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { origin: `http://127.0.0.1:${port}`, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

/** What `fetch` from the page gives for a read with the key: the data, or the browser's refusal. */
function queryFromPage(watched: WatchedPage, url: string) {
  return watched.page.evaluate(
    async ({ url, key }) => {
      try {
        const response = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${key}`, 'x-request-id': 'from-another-origin' },
          body: JSON.stringify({ query: '{ sessions(first: 0) { totalCount } }' }),
        });
        return { ok: true as const, body: (await response.json()) as unknown, requestId: response.headers.get('x-request-id') };
      } catch (error) {
        return { ok: false as const, error: String(error) };
      }
    },
    { url, key: READ_KEY },
  );
}

describe('browsers: read keys on the dashboard, CORS for other origins', () => {
  let db: TestDatabase;
  let server: TestServer;
  let browser: Browser;
  let listed: Awaited<ReturnType<typeof startOtherOrigin>>;
  let unlisted: Awaited<ReturnType<typeof startOtherOrigin>>;
  const pages: WatchedPage[] = [];

  async function page(): Promise<WatchedPage> {
    const watched = await openWatchedPage(browser);
    pages.push(watched);
    return watched;
  }

  beforeAll(async () => {
    [listed, unlisted] = await Promise.all([startOtherOrigin(), startOtherOrigin()]);
    db = await createTestDatabase();
    server = await startTestServer(db.url, { READ_API_KEYS: READ_KEY, INGEST_API_KEYS: INGEST_KEY, CORS_ORIGINS: listed.origin });
    browser = await launchBrowser();
  });
  afterAll(async () => {
    for (const watched of pages) await watched.close();
    await browser?.close();
    await server?.stop();
    await db?.drop();
    await listed?.close();
    await unlisted?.close();
  });

  it('asks for a read key, refuses a wrong one, and works over HTTP and WebSocket with the right one, for this tab only', async () => {
    const watched = await page();
    const { page: tab, errors, offHost } = watched;
    await tab.goto(`${originOf(server.url)}/`);
    await tab.locator('#key-prompt').waitFor({ state: 'visible' });
    expect(await tab.getAttribute('#tile-open', 'data-value')).toBe('');

    await tab.fill('#key-input', 'not-a-key');
    await tab.click('#key-form button[type="submit"]');
    await tab.waitForFunction(() => /refused/.test(document.querySelector('#key-error')?.textContent ?? ''));
    await expect(tab.locator('#key-prompt').isVisible()).resolves.toBe(true);

    await tab.fill('#key-input', READ_KEY);
    await tab.click('#key-form button[type="submit"]');
    await tab.locator('#key-prompt').waitFor({ state: 'hidden' });
    await tab.waitForSelector('#link-state[data-state="live"]');
    await tab.waitForFunction(() => document.querySelector('#tile-open')?.getAttribute('data-value') !== '');
    await tab.waitForSelector('[data-stat="sessions"]');

    // The live feed authenticates its WebSocket with the key too.
    const user = `keyed-${Date.now()}`;
    await gqlData(server.url, INGEST, { events: [{ userId: user, name: 'page_view', timestamp: new Date().toISOString() }] }, { authorization: `Bearer ${INGEST_KEY}` });
    await tab.locator(`#feed li[data-kind="started"][data-user="${user}"]`).waitFor({ timeout: DEADLINE_MS });

    const storage = await tab.evaluate(() => ({ session: JSON.stringify({ ...sessionStorage }), local: JSON.stringify({ ...localStorage }) }));
    expect(storage.session).toContain(READ_KEY);
    expect(storage.local).not.toContain(READ_KEY);
    // A reload keeps the key (same tab); another browser context (a new tab elsewhere) asks again.
    await tab.reload();
    await tab.waitForSelector('#link-state[data-state="live"]');
    await expect(tab.locator('#key-prompt').isVisible()).resolves.toBe(false);
    const other = await page();
    await other.page.goto(`${originOf(server.url)}/`);
    await other.page.locator('#key-prompt').waitFor({ state: 'visible' });

    // Only the refused probes (401) are console errors: the browser reports each.
    expect(errors.filter((e) => !/status of 401/.test(e))).toEqual([]);
    expect(offHost).toEqual([]);
  });

  it('lets a page on a listed origin query with a key, and refuses a page on another', async () => {
    const fromListed = await page();
    await fromListed.page.goto(listed.origin);
    const answer = await queryFromPage(fromListed, server.url);
    expect(answer).toEqual({ ok: true, body: { data: { sessions: { totalCount: expect.any(Number) } } }, requestId: 'from-another-origin' });
    expect(fromListed.errors).toEqual([]);

    const fromUnlisted = await page();
    await fromUnlisted.page.goto(unlisted.origin);
    const refused = await queryFromPage(fromUnlisted, server.url);
    expect(refused).toEqual({ ok: false, error: expect.stringMatching(/Failed to fetch/) });
    expect(fromUnlisted.errors.join('\n')).toMatch(/CORS policy/);
  });
});
