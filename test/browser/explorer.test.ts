import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, openWatchedPage, type WatchedPage } from '../helpers/browser.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { INGEST } from '../helpers/events.ts';
import { gql, gqlData } from '../helpers/graphql.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

const READ_KEY = 'explorer-read-key';
const INGEST_KEY = 'explorer-ingest-key';
const DEADLINE_MS = 10_000;

type CodeMirrorElement = { CodeMirror: { setValue(v: string): void; getValue(): string; operationName?: string | null } };

/**
 * Replaces the text of GraphiQL's query editor (CodeMirror 5 keeps its
 * instance on the element) and waits until GraphiQL has parsed it: it takes
 * the operation to run from a debounced parse, kept on the editor instance.
 */
async function setQuery(page: Page, query: string, operationName: string): Promise<void> {
  await page.evaluate((text) => {
    (document.querySelector('.graphiql-query-editor .CodeMirror') as unknown as CodeMirrorElement).CodeMirror.setValue(text);
  }, query);
  await page.waitForFunction(
    (name) => (document.querySelector('.graphiql-query-editor .CodeMirror') as unknown as CodeMirrorElement).CodeMirror.operationName === name,
    operationName,
  );
}

/** Replaces the text of the Headers tab (the tools area holds the variables editor, then the headers editor). */
async function setHeaders(page: Page, headers: string): Promise<void> {
  await page.evaluate((text) => {
    const editors = [...document.querySelectorAll('.graphiql-editor-tool .CodeMirror')] as unknown as CodeMirrorElement[];
    const headersEditor = editors[1];
    if (headersEditor === undefined) throw new Error(`expected the variables and headers editors, found ${editors.length}`);
    headersEditor.CodeMirror.setValue(text);
  }, headers);
}

/** The text of the response pane. */
function responseText(page: Page): Promise<string> {
  return page.evaluate(() => {
    const editor = document.querySelector('.graphiql-response .CodeMirror') as unknown as CodeMirrorElement | null;
    return editor?.CodeMirror.getValue() ?? '';
  });
}

async function waitForResponse(page: Page, pattern: RegExp, timeoutMs = DEADLINE_MS): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const text = await responseText(page);
    if (pattern.test(text)) return text;
    if (Date.now() > deadline) throw new Error(`the response pane never matched ${pattern}; it shows: ${text}`);
    await page.waitForTimeout(100);
  }
}

describe('the GraphQL explorer at GET /graphql, offline', () => {
  let db: TestDatabase;
  let server: TestServer;
  let browser: Browser;
  let watched: WatchedPage;

  beforeAll(async () => {
    db = await createTestDatabase();
    server = await startTestServer(db.url, { READ_API_KEYS: READ_KEY, INGEST_API_KEYS: INGEST_KEY, SESSION_GAP: '30m' });
    browser = await launchBrowser();
    watched = await openWatchedPage(browser);
  });
  afterAll(async () => {
    await watched?.close();
    await browser?.close();
    await server?.stop();
    await db?.drop();
  });

  it('serves the IDE to a browser and JSON to an API client at the same URL', async () => {
    const html = await fetch(server.url, { headers: { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' } });
    expect(html.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await html.text()).toContain('/assets/explorer.js');
    // A client that accepts anything still gets GraphQL (and Apollo's CSRF check: no preflight header, refused).
    const api = await fetch(`${server.url}?query=${encodeURIComponent('{ __typename }')}`, { headers: { accept: '*/*' } });
    expect(api.headers.get('content-type')).toMatch(/^application\/json/);
    expect(api.status).toBe(400);
    const viaPost = await gql(server.url, '{ __typename }', {}, { authorization: `Bearer ${READ_KEY}` });
    expect(viaPost.data).toEqual({ __typename: 'Query' });
  });

  it('runs a query with the Authorization header of the Headers tab, and a subscription over graphql-ws', async () => {
    const { page, errors, offHost } = watched;
    await page.goto(server.url);
    await page.waitForSelector('.graphiql-query-editor .CodeMirror', { timeout: 15_000 });

    // Without a key the service refuses.
    await setQuery(page, 'query Count { sessions(first: 1) { totalCount } }', 'Count');
    await page.click('.graphiql-execute-button');
    await waitForResponse(page, /UNAUTHENTICATED/);

    await page.getByRole('button', { name: /headers/i }).first().click();
    await setHeaders(page, JSON.stringify({ Authorization: `Bearer ${READ_KEY}` }));
    await page.click('.graphiql-execute-button');
    expect(JSON.parse(await waitForResponse(page, /totalCount/))).toEqual({ data: { sessions: { totalCount: 0 } } });

    await setQuery(page, 'subscription Live { sessionStarted { userId eventCount } }', 'Live');
    await page.click('.graphiql-execute-button');
    // The subscription is live once the service has registered it: start sessions of new users until one shows.
    const deadline = Date.now() + DEADLINE_MS;
    let text = '';
    for (let n = 0; !text.includes('explorer-user-'); n++) {
      if (Date.now() > deadline) throw new Error(`no sessionStarted in the response pane: ${text}`);
      const event = { userId: `explorer-user-${n}`, name: 'page_view', timestamp: new Date().toISOString() };
      await gqlData(server.url, INGEST, { events: [event] }, { authorization: `Bearer ${INGEST_KEY}` });
      text = await waitForResponse(page, /sessionStarted/, 1_000).catch(() => '');
    }
    expect(JSON.parse(text)).toMatchObject({ data: { sessionStarted: { userId: expect.stringMatching(/^explorer-user-\d+$/), eventCount: 1 } } });
    // The two 401s of the keyless introspection and query are expected.
    expect(errors.filter((e) => !/401|Unauthorized/i.test(e))).toEqual([]);
    expect(offHost).toEqual([]);
  });
});
