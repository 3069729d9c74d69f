// Bundles the browser pages the service serves (web/dashboard, web/explorer)
// with every script, style and font they use into dist/web/, so that the
// pages load from the service alone: no CDN, nothing fetched from another
// host, working offline (DESIGN.md "HTTP surfaces beside GraphQL").
//
//   node scripts/build-web.mjs              (npm run build:web)
//   node scripts/build-web.mjs --optional   (postinstall: warns instead of failing)
//
// Output: dist/web/dashboard.html, dist/web/explorer.html and dist/web/assets/.
// The build goes to a fresh folder that then replaces dist/web, so a server
// running meanwhile never serves half of one. The server answers 503 with the
// command to run when dist/web is missing (src/server/static-pages.ts).
import { copyFileSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const optional = process.argv.includes('--optional');
/** Page name -> entry script; each page is web/<name>/index.html plus its bundle. */
const PAGES = { dashboard: 'web/dashboard/main.ts', explorer: 'web/explorer/main.tsx' };

function skip(message) {
  process.stderr.write(`build-web: ${message}; the dashboard and explorer pages will say how to build them\n`);
  process.exit(optional ? 0 : 1);
}

// The Dockerfile installs before it copies the sources: nothing to build yet.
if (!Object.values(PAGES).every((entry) => existsSync(path.join(root, entry)))) skip('no sources to build');

let esbuild;
try {
  esbuild = await import('esbuild');
} catch (error) {
  skip(`esbuild is not installed (${error.message})`);
}

const dist = path.join(root, 'dist');
const out = path.join(dist, 'web');
const fresh = path.join(dist, `web.building-${process.pid}`);
try {
  rmSync(fresh, { recursive: true, force: true });
  await esbuild.build({
    absWorkingDir: root,
    entryPoints: Object.fromEntries(Object.entries(PAGES).map(([name, entry]) => [name, entry])),
    outdir: path.join(fresh, 'assets'),
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['chrome110', 'firefox110', 'safari16'],
    minify: true,
    sourcemap: 'linked',
    jsx: 'automatic',
    // Fonts and images referenced from CSS are copied beside the bundle (no remote URL survives).
    loader: { '.woff': 'file', '.woff2': 'file', '.ttf': 'file', '.svg': 'file', '.png': 'file' },
    assetNames: '[name]-[hash]',
    define: { 'process.env.NODE_ENV': '"production"' },
    legalComments: 'linked',
    logLevel: 'warning',
  });
  for (const name of Object.keys(PAGES)) copyFileSync(path.join(root, 'web', name, 'index.html'), path.join(fresh, `${name}.html`));
  const old = path.join(dist, `web.old-${process.pid}`);
  mkdirSync(dist, { recursive: true });
  if (existsSync(out)) renameSync(out, old);
  renameSync(fresh, out);
  rmSync(old, { recursive: true, force: true });
  const sizes = readdirSync(path.join(out, 'assets'))
    .filter((file) => file.endsWith('.js') || file.endsWith('.css'))
    .map((file) => `${file} ${Math.round(statSync(path.join(out, 'assets', file)).size / 1024)} KiB`);
  process.stderr.write(`build-web: dist/web (${sizes.join(', ')})\n`);
} catch (error) {
  rmSync(fresh, { recursive: true, force: true });
  skip(`the build failed (${error.message})`);
}
