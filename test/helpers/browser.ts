/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
// The browser tests pass functions to the page (page.evaluate): they are typed against the DOM.
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

/** Debian's chromium (.ci/run installs it when missing); CHROMIUM_PATH overrides. */
export const CHROMIUM_PATH = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';

/** Flags for a headless Chromium in a container that must not phone home. */
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

/** Hosts a page may reach: the test's own servers. */
const LOCAL_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** Starts headless Chromium; close it in afterAll. */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_ARGS });
}

/** A page whose console errors, page errors and attempts to reach another host are recorded. */
export interface WatchedPage {
  readonly context: BrowserContext;
  readonly page: Page;
  /** Console messages of type error and uncaught exceptions. */
  readonly errors: string[];
  /** URLs of requests (and WebSockets) to a host other than 127.0.0.1 or localhost; each was aborted. */
  readonly offHost: string[];
  close(): Promise<void>;
}

function isLocal(url: string): boolean {
  const { protocol, hostname } = new URL(url);
  if (protocol === 'data:' || protocol === 'blob:' || protocol === 'about:') return true;
  return LOCAL_HOSTS.has(hostname);
}

/**
 * A fresh context (UTC, 1280x800 unless told) and page. Every request to
 * another host is aborted and recorded, so a page that needs the internet
 * fails its test instead of quietly working on a machine that has it.
 */
export async function openWatchedPage(
  browser: Browser,
  options: { viewport?: { width: number; height: number } } = {},
): Promise<WatchedPage> {
  const context = await browser.newContext({ viewport: options.viewport ?? { width: 1280, height: 800 }, timezoneId: 'UTC', locale: 'en-US' });
  const errors: string[] = [];
  const offHost: string[] = [];
  await context.route('**/*', async (route) => {
    const url = route.request().url();
    if (isLocal(url)) await route.continue();
    else {
      offHost.push(url);
      await route.abort('internetdisconnected');
    }
  });
  const page = await context.newPage();
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(`console: ${message.text()} (${message.location().url})`);
  });
  page.on('pageerror', (error) => errors.push(`page error: ${error.message}`));
  page.on('websocket', (socket) => {
    if (!isLocal(socket.url())) offHost.push(socket.url());
  });
  return { context, page, errors, offHost, close: () => context.close() };
}

/** The origin (scheme://host:port) of a service URL such as http://127.0.0.1:1234/graphql. */
export function originOf(url: string): string {
  return new URL(url).origin;
}
