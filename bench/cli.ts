/**
 * `sessions sessionize` against DuckDB and a straightforward Python script,
 * on files of several export shapes (bench/cli-files.ts):
 *
 *   npm run bench -- cli                         1,000,000 lines per shape
 *   BENCH_CLI_LINES=200000 npm run bench -- cli  shorter
 *   BENCH_CLI_10M=1 npm run bench -- cli         also peak RSS on 10,000,000 lines (seed shape, CLI only)
 *   BENCH_CLI_SHAPES=seed,nested npm run bench -- cli   only those shapes
 *
 * The CLI is built first (scripts/build-cli.mjs, as `npm install` does), so
 * the benchmark times what users run. Per file, the CLI and DuckDB
 * (@duckdb/node-api, 2 threads, the equivalent gap-and-islands SQL,
 * bench/duckdb-sessionize.mjs, output written to a file) run RUNS times
 * each, alternating, the best time counting (the machine may be busy);
 * bench/reference_sessionize.py runs once. All write their sessions to a
 * file with a 30 s gap; the CLI's sessions (user, start, end, events, top
 * channel and its count) must equal the Python script's, and their number
 * DuckDB's, or the benchmark fails. Prints per file
 * {"bench":"cli","shape","lines","users","linesPerSec","duckdbLinesPerSec","vsDuckdb","pythonLinesPerSec","peakRssMb"}.
 * Times are whole commands, process start included; peakRssMb is the CLI's
 * peak resident memory (from /proc).
 */
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { createReadStream, createWriteStream, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { generate, SHAPES, type Shape } from './cli-files.ts';

const LINES = Number(process.env['BENCH_CLI_LINES'] ?? 1_000_000);
const RUNS = Number(process.env['BENCH_CLI_RUNS'] ?? 2);
const TEN_MILLION = process.env['BENCH_CLI_10M'] === '1';
/** Comma-separated shape names to run (default: all). */
const ONLY = process.env['BENCH_CLI_SHAPES']?.split(',') ?? null;
const GAP_MS = 30_000;

const root = fileURLToPath(new URL('..', import.meta.url));
const bin = path.join(root, 'bin', 'sessions.js');
const python = path.join(root, 'bench', 'reference_sessionize.py');
const duckdb = path.join(root, 'bench', 'duckdb-sessionize.mjs');

/** Peak resident memory (MB) of a running process, polled from /proc; null without /proc. */
function watchPeakRss(pid: number): { stop(): number | null } {
  let peakKb: number | null = null;
  const read = (): void => {
    try {
      const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      if (m !== null) peakKb = Math.max(peakKb ?? 0, Number(m[1]));
    } catch {
      // gone, or no /proc
    }
  };
  const timer = setInterval(read, 20);
  return {
    stop() {
      clearInterval(timer);
      return peakKb === null ? null : Math.round(peakKb / 1024);
    },
  };
}

interface Timed {
  ms: number;
  peakRssMb: number | null;
  stdout: string;
}

/** Runs a command with stdout to `outFile` (or collected when null); resolves with the wall time and the peak RSS. */
async function timed(command: string, args: string[], outFile: string | null): Promise<Timed> {
  const out = outFile === null ? 'pipe' : createWriteStream(outFile);
  if (out !== 'pipe') await once(out, 'open');
  const started = performance.now();
  const child = spawn(command, args, { stdio: ['ignore', out, 'pipe'] });
  let stderr = '';
  let stdout = '';
  child.stderr?.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  child.stdout?.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  const rss = child.pid === undefined ? { stop: () => null } : watchPeakRss(child.pid);
  const [code] = (await once(child, 'exit')) as [number | null];
  const ms = performance.now() - started;
  const peakRssMb = rss.stop();
  if (out !== 'pipe') out.close();
  if (code !== 0) throw new Error(`${command} ${args.join(' ')} exited with ${code}: ${stderr}`);
  return { ms, peakRssMb, stdout };
}

/** The compared fields of every session in a JSON-lines output, sorted. */
async function sessionKeys(file: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const line of createInterface({ input: createReadStream(file), crlfDelay: Infinity })) {
    if (line === '') continue;
    const s = JSON.parse(line) as Record<string, unknown>;
    const top = s['topChannel'] === null ? null : String(s['topChannel']);
    keys.push(JSON.stringify([String(s['userId']), s['startedAt'], s['endedAt'], s['eventCount'], top, s['topChannelCount']]));
  }
  return keys.sort();
}

/** Non-empty lines of a file: DuckDB's COPY ... (FORMAT json) writes one session per line. */
async function lineCount(file: string): Promise<number> {
  let n = 0;
  for await (const line of createInterface({ input: createReadStream(file), crlfDelay: Infinity })) if (line !== '') n++;
  return n;
}

function firstDifference(a: readonly string[], b: readonly string[]): string | null {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if (a[i] !== b[i]) return `#${i}: sessions ${a[i] ?? '(none)'} vs python ${b[i] ?? '(none)'}`;
  }
  return null;
}

const perSec = (lines: number, ms: number): number => Math.round((lines * 1000) / ms);

async function benchShape(dir: string, shape: Shape): Promise<boolean> {
  const input = path.join(dir, `${shape.name}.jsonl`);
  process.stderr.write(`bench cli: ${shape.name}: generating ${LINES.toLocaleString('en-US')} lines, ${shape.users.toLocaleString('en-US')} users\n`);
  await generate(shape, LINES, input);
  let cli: Timed | null = null;
  let duck: Timed | null = null;
  const sql = shape.sql;
  for (let run = 1; run <= RUNS; run++) {
    process.stderr.write(`bench cli: ${shape.name}: run ${run} of ${RUNS}: sessions sessionize, duckdb\n`);
    const c = await timed(process.execPath, [bin, 'sessionize', '--gap', `${GAP_MS / 1000}s`, input], path.join(dir, 'cli.jsonl'));
    if (cli === null || c.ms < cli.ms) cli = c;
    const args = [duckdb, input, path.join(dir, 'duckdb.json'), String(GAP_MS), sql.ts, sql.name, sql.user, sql.channel];
    const d = await timed(process.execPath, args, null); // prints nothing: the sessions are counted below, untimed
    if (duck === null || d.ms < duck.ms) duck = d;
  }
  process.stderr.write(`bench cli: ${shape.name}: python3 bench/reference_sessionize.py\n`);
  const py = await timed('python3', [python, input, '--gap', String(GAP_MS / 1000)], path.join(dir, 'python.jsonl'));
  if (cli === null || duck === null) return false;
  const ours = await sessionKeys(path.join(dir, 'cli.jsonl'));
  const theirs = await sessionKeys(path.join(dir, 'python.jsonl'));
  const difference = firstDifference(ours, theirs);
  const duckSessions = await lineCount(path.join(dir, 'duckdb.json'));
  const linesPerSec = perSec(LINES, cli.ms);
  const duckdbLinesPerSec = perSec(LINES, duck.ms);
  process.stdout.write(
    `${JSON.stringify({
      bench: 'cli',
      shape: shape.name,
      lines: LINES,
      users: shape.users,
      linesPerSec,
      duckdbLinesPerSec,
      vsDuckdb: Math.round((linesPerSec / duckdbLinesPerSec) * 100) / 100,
      pythonLinesPerSec: perSec(LINES, py.ms),
      peakRssMb: cli.peakRssMb,
      sessions: ours.length,
    })}\n`,
  );
  let ok = true;
  if (difference !== null) {
    process.stderr.write(`bench cli: ${shape.name}: the sessions differ from python's (${ours.length} vs ${theirs.length}); first ${difference}\n`);
    ok = false;
  }
  if (duckSessions !== ours.length) {
    process.stderr.write(`bench cli: ${shape.name}: ${ours.length} sessions, duckdb ${duckSessions}\n`);
    ok = false;
  }
  rmSync(input, { force: true });
  return ok;
}

/** Peak RSS of the CLI alone on 10M lines of the seed shape (memory must not follow the file's length). */
async function tenMillion(dir: string): Promise<void> {
  const lines = 10_000_000;
  const input = path.join(dir, 'seed-10m.jsonl');
  const shape = SHAPES[0] as Shape;
  process.stderr.write(`bench cli: generating ${lines.toLocaleString('en-US')} lines (seed shape)\n`);
  await generate(shape, lines, input);
  const c = await timed(process.execPath, [bin, 'sessionize', '--gap', '30s', input], path.join(dir, 'cli.jsonl'));
  process.stdout.write(
    `${JSON.stringify({ bench: 'cli', shape: `${shape.name}-10m`, lines, linesPerSec: perSec(lines, c.ms), peakRssMb: c.peakRssMb })}\n`,
  );
  rmSync(input, { force: true });
}

const built = spawnSync(process.execPath, [path.join(root, 'scripts', 'build-cli.mjs')], { stdio: ['ignore', 'ignore', 'inherit'] });
if (built.status !== 0) process.stderr.write('bench cli: the build failed; timing the sources through tsx\n');

const dir = mkdtempSync(path.join(tmpdir(), 'bench-cli-'));
try {
  let ok = true;
  for (const shape of SHAPES) if (ONLY === null || ONLY.includes(shape.name)) ok = (await benchShape(dir, shape)) && ok;
  if (TEN_MILLION) await tenMillion(dir);
  if (!ok) process.exitCode = 1;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
