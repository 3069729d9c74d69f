import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/**
 * vitest globalSetup: bundles the browser pages once per run, so that the
 * browser tests check the sources as they are now, not an install-time build.
 */
export default function setup(): void {
  const script = fileURLToPath(new URL('../../scripts/build-web.mjs', import.meta.url));
  execFileSync(process.execPath, [script], { stdio: ['ignore', 'ignore', 'inherit'] });
}
