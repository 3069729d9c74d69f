// Bundles the `sessions` command (src/cli/main.ts and the sessionize worker)
// into plain JavaScript under dist/cli/, so that bin/sessions.js can start it
// without tsx's loader (about 0.2 s of CPU per thread, docs/cli.md "Speed").
//
//   node scripts/build-cli.mjs              (npm run build:cli)
//   node scripts/build-cli.mjs --optional   (postinstall: warns instead of failing)
//
// dist/cli/build.json lists the sources the bundle was made from and when the
// build started: bin/sessions.js uses the bundle only while none of them is
// newer, and runs the sources through tsx otherwise, so an edit is never
// shadowed by a stale build. The build goes to a fresh folder that then
// replaces dist/cli, so a command starting meanwhile never sees half of one.
import { existsSync, mkdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const optional = process.argv.includes('--optional');
const ENTRIES = ['src/cli/main.ts', 'src/cli/sessionize-worker.ts'];
/** Files besides the bundled sources that change what a build gives. */
const BUILD_INPUTS = ['scripts/build-cli.mjs', 'tsconfig.json'];

function skip(message) {
  process.stderr.write(`build-cli: ${message}; bin/sessions.js will run the sources through tsx\n`);
  process.exit(optional ? 0 : 1);
}

// The Dockerfile installs before it copies the sources: nothing to build yet.
if (!ENTRIES.every((e) => existsSync(path.join(root, e)))) skip('no sources to build');

let esbuild;
try {
  esbuild = await import('esbuild');
} catch (error) {
  skip(`esbuild is not installed (${error.message})`);
}

const dist = path.join(root, 'dist');
const out = path.join(dist, 'cli');
const fresh = path.join(dist, `cli.building-${process.pid}`);
// Sources modified from here on are newer than the build (a race with an editor errs towards tsx).
const startedAtMs = Date.now();
try {
  rmSync(fresh, { recursive: true, force: true });
  const result = await esbuild.build({
    absWorkingDir: root,
    entryPoints: ENTRIES,
    outdir: fresh,
    bundle: true,
    // main.ts loads each command on demand: shared code goes to chunks, so `ingest` never loads sessionize.
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    // Dependencies stay in node_modules, resolved at run time as from the sources.
    packages: 'external',
    sourcemap: 'linked',
    metafile: true,
    logLevel: 'warning',
  });
  const inputs = [...Object.keys(result.metafile.inputs), ...BUILD_INPUTS].sort();
  writeFileSync(path.join(fresh, 'build.json'), `${JSON.stringify({ startedAtMs, inputs }, null, 2)}\n`);
  const old = path.join(dist, `cli.old-${process.pid}`);
  mkdirSync(dist, { recursive: true });
  if (existsSync(out)) renameSync(out, old);
  renameSync(fresh, out);
  rmSync(old, { recursive: true, force: true });
  const kb = Math.round(statSync(path.join(out, 'main.js')).size / 1024);
  process.stderr.write(`build-cli: dist/cli/main.js (${kb} KiB) from ${inputs.length} files\n`);
} catch (error) {
  rmSync(fresh, { recursive: true, force: true });
  skip(`the build failed (${error.message})`);
}
