import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';

/** Where scripts/build-web.mjs writes the bundled pages. */
export const WEB_DIST_DIR = fileURLToPath(new URL('../../dist/web', import.meta.url));

/** A page of the bundle: dist/web/<name>.html plus its assets. */
export type PageName = 'dashboard' | 'explorer';

/**
 * What the pages may load, enforced by the browser itself: scripts, styles,
 * fonts and connections from this origin only (CSP Level 3 lets 'self' cover
 * ws:/wss: on the same host), so a page can never reach another host even if
 * a bundled library tried. GraphiQL and uPlot set inline style attributes, and
 * GraphiQL's fonts are data: URLs.
 */
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "font-src 'self' data:",
  "img-src 'self' data:",
  "connect-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'none'",
].join('; ');

const PAGE_TITLES: Record<PageName, string> = { dashboard: 'dashboard', explorer: 'GraphQL explorer' };

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The answer when the bundle is missing: what to run, not a blank page or a JSON 404. */
function notBuilt(page: PageName, dir: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sessions service: ${PAGE_TITLES[page]} not built</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 3rem auto; line-height: 1.5">
<h1>The ${PAGE_TITLES[page]} is not built</h1>
<p>The service serves its browser pages from <code>${escapeHtml(dir)}</code>, which <code>npm install</code> builds
(<code>scripts/build-web.mjs</code>). It is missing or incomplete: run <code>npm run build:web</code> in the service's folder
and reload. The GraphQL API at <code>/graphql</code> works without it.</p></body></html>`;
}

/** True when the request prefers HTML over a GraphQL JSON answer (a browser opening the URL). */
export function prefersHtml(req: Request): boolean {
  return req.accepts(['application/json', 'application/graphql-response+json', 'text/html']) === 'text/html';
}

/**
 * The browser pages of the service, served from the bundle in `dir`:
 * `page(name)` answers one page's HTML (503 with the build command when the
 * bundle is missing, checked per request so a build after start is picked
 * up), and `assets` serves /assets/* (scripts, styles, fonts).
 */
export function staticPages(dir: string = WEB_DIST_DIR): { page(name: PageName): RequestHandler; assets: RequestHandler } {
  const assets = express.static(path.join(dir, 'assets'), { index: false, fallthrough: true, maxAge: 0 });
  return {
    page(name) {
      const file = path.join(dir, `${name}.html`);
      return (_req: Request, res: Response, next: NextFunction): void => {
        res.setHeader('Content-Security-Policy', CONTENT_SECURITY_POLICY);
        res.setHeader('Cache-Control', 'no-cache');
        if (!existsSync(file) || !existsSync(path.join(dir, 'assets', `${name}.js`))) {
          res.status(503).type('html').send(notBuilt(name, dir));
          return;
        }
        res.sendFile(file, (error) => {
          if (error !== undefined && !res.headersSent) next(error);
        });
      };
    },
    assets: (req, res, next) => {
      res.setHeader('Content-Security-Policy', CONTENT_SECURITY_POLICY);
      assets(req, res, next);
    },
  };
}
