/**
 * `npm run bench`: runs every benchmark, each in its own Node process (so one
 * benchmark's heap and JIT state cannot colour the next), and passes their
 * JSON lines through to stdout. Progress and notices go to stderr.
 *
 *   npm run bench                 # all of them
 *   npm run bench -- ingest fanout  # only those named
 *
 * A benchmark is a script in bench/ that prints one JSON line per result,
 * `{"bench": NAME, ...}`. Results with the machine and date go in BENCHMARKS.md.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** In the order they run: the pure core first, then the ones that need Postgres. */
const BENCHMARKS = ['sessionizer', 'cli', 'ingest', 'late', 'queries', 'fanout', 'cluster', 'load'] as const;

const here = fileURLToPath(new URL('.', import.meta.url));
const wanted = process.argv.slice(2);
const unknown = wanted.filter((name) => !(BENCHMARKS as readonly string[]).includes(name));
if (unknown.length > 0) {
  process.stderr.write(`unknown benchmark(s): ${unknown.join(', ')}; known: ${BENCHMARKS.join(', ')}\n`);
  process.exit(2);
}

function runOne(name: string): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', `${here}${name}.ts`], {
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    child.once('exit', (code) => resolve(code ?? 1));
  });
}

let failed = 0;
for (const name of BENCHMARKS) {
  if (wanted.length > 0 && !wanted.includes(name)) continue;
  process.stderr.write(`bench: ${name}\n`);
  const code = await runOne(name);
  if (code !== 0) {
    failed += 1;
    process.stderr.write(`bench: ${name} failed with exit code ${code}\n`);
  }
}
process.exit(failed === 0 ? 0 : 1);
