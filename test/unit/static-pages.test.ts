import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { staticPages } from '../../src/server/static-pages.ts';

describe('static pages', () => {
  let dir: string;
  let server: http.Server;
  let base: string;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'web-dist-'));
    const pages = staticPages(dir);
    const app = express();
    app.get('/', pages.page('dashboard'));
    app.get('/explorer', pages.page('explorer'));
    app.use('/assets', pages.assets);
    server = http.createServer(app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  it('says how to build the pages when the bundle is missing, then serves them once built (no restart)', async () => {
    const missing = await fetch(`${base}/`);
    expect(missing.status).toBe(503);
    expect(await missing.text()).toContain('npm run build:web');

    mkdirSync(path.join(dir, 'assets'));
    writeFileSync(path.join(dir, 'dashboard.html'), '<!doctype html><p>dashboard</p>');
    writeFileSync(path.join(dir, 'assets', 'dashboard.js'), 'export {};');
    const built = await fetch(`${base}/`);
    expect(built.status).toBe(200);
    expect(await built.text()).toContain('dashboard');
    expect(built.headers.get('content-security-policy')).toMatch(/default-src 'self'/);
    const script = await fetch(`${base}/assets/dashboard.js`);
    expect(script.status).toBe(200);
    expect(script.headers.get('content-type')).toMatch(/javascript/);
    // The explorer's bundle is still missing: its page says so.
    expect((await fetch(`${base}/explorer`)).status).toBe(503);
  });
});
