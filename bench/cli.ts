/**
 * `sessions sessionize` against a straightforward Python implementation of
 * the same rules (bench/reference_sessionize.py), on one million lines in the
 * field's shape:
 *
 *   {"event_name": "send_message", "timestamp": "2016-11-08T14:09:57Z", "user_id": "1", "channel_id": "1"}
 *
 *   node --expose-gc --import tsx bench/cli.ts    (as bench/run.ts runs it)
 *
 * The CLI is built first (scripts/build-cli.mjs, as `npm install` does), so
 * the benchmark times the current sources as users run them, not through
 * tsx. Both run as child processes on the same file with a 30 s gap, RUNS
 * times each, alternating (the best time of each counts: the machine may be
 * busy with other work); their sessions (user, start, end, events, top
 * channel and its count) must be the same, or the benchmark fails. Prints
 * one JSON line:
 * {"bench":"cli","events","eventsPerSec","pythonEventsPerSec","speedup","sessions","peakRssMb"}.
 * eventsPerSec counts the whole command, process start included; peakRssMb is
 * the CLI's peak resident memory (from /proc, null where there is none).
 */
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { createReadStream, createWriteStream, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { rng } from '../test/helpers/random.ts';

const EVENTS = 1_000_000;
const RUNS = 2;
const USERS = 50_000;
const CHANNELS = 200;
const GAP_SECONDS = 30;
const T0 = Date.UTC(2016, 10, 8) / 1000;
/** Lines arrive up to this many seconds out of order (well inside the CLI's default lateness). */
const JITTER_SECONDS = 2;
const NAMES = ['send_message', 'send_message', 'send_message', 'open_channel', 'add_reaction'];

const root = fileURLToPath(new URL('..', import.meta.url));
const bin = path.join(root, 'bin', 'sessions.js');
const python = path.join(root, 'bench', 'reference_sessionize.py');
const build = path.join(root, 'scripts', 'build-cli.mjs');


/**
 * Chat traffic over a day: USERS people, each writing in short bursts (one to
 * a few messages, gaps mostly under 30 s, sometimes exactly 30 s or just
 * over) separated by pauses of minutes to hours, mostly in a few favourite
 * channels; at a 30 s gap that is one or two messages per session. Lines are
 * in time order, each up to JITTER_SECONDS late (a few merged sources).
 */
async function generate(file: string): Promise<void> {
  const random = rng(42);
  const ts = new Float64Array(EVENTS);
  const arrival = new Float64Array(EVENTS);
  const user = new Int32Array(EVENTS);
  const channel = new Int32Array(EVENTS);
  const name = new Uint8Array(EVENTS);
  const perUser = EVENTS / USERS;
  let n = 0;
  for (let u = 1; n < EVENTS; u = (u % USERS) + 1) {
    const home = 1 + Math.floor(random() * CHANNELS);
    let t = T0 + Math.floor(random() * 86_400);
    for (let i = 0; i < perUser && n < EVENTS; i++, n++) {
      ts[n] = t;
      arrival[n] = t + random() * JITTER_SECONDS;
      user[n] = u;
      channel[n] = random() < 0.7 ? home : 1 + Math.floor(random() * CHANNELS);
      name[n] = Math.floor(random() * NAMES.length);
      const p = random();
      t +=
        p < 0.35 ? Math.floor(random() * GAP_SECONDS)
        : p < 0.4 ? GAP_SECONDS
        : p < 0.45 ? GAP_SECONDS + 1
        : 60 + Math.floor(random() * 3 * 3_600);
    }
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => (arrival[a] as number) - (arrival[b] as number));
  const out = createWriteStream(file);
  let chunk = '';
  for (const i of order) {
    const iso = new Date((ts[i] as number) * 1000).toISOString().replace('.000Z', 'Z');
    chunk += `{"event_name": "${NAMES[name[i] as number]}", "timestamp": "${iso}", "user_id": "${user[i]}", "channel_id": "${channel[i]}"}\n`;
    if (chunk.length > 1 << 20) {
      if (!out.write(chunk)) await once(out, 'drain');
      chunk = '';
    }
  }
  out.end(chunk);
  await once(out, 'finish');
}

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

/** Runs a command with stdout to `outFile`; resolves with the wall time and the peak RSS. */
async function timed(command: string, args: string[], outFile: string): Promise<{ ms: number; peakRssMb: number | null }> {
  const out = createWriteStream(outFile);
  await once(out, 'open');
  const started = performance.now();
  const child = spawn(command, args, { stdio: ['ignore', out, 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const rss = child.pid === undefined ? { stop: () => null } : watchPeakRss(child.pid);
  const [code] = (await once(child, 'exit')) as [number | null];
  const ms = performance.now() - started;
  const peakRssMb = rss.stop();
  out.close();
  if (code !== 0) throw new Error(`${command} ${args.join(' ')} exited with ${code}: ${stderr}`);
  return { ms, peakRssMb };
}

/** The compared fields of every session in a JSON-lines output, sorted. */
async function sessionKeys(file: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const line of createInterface({ input: createReadStream(file), crlfDelay: Infinity })) {
    if (line === '') continue;
    const s = JSON.parse(line) as Record<string, unknown>;
    keys.push(JSON.stringify([s['userId'], s['startedAt'], s['endedAt'], s['eventCount'], s['topChannel'], s['topChannelCount']]));
  }
  return keys.sort();
}

function firstDifference(a: readonly string[], b: readonly string[]): string | null {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if (a[i] !== b[i]) return `#${i}: sessions ${a[i] ?? '(none)'} vs python ${b[i] ?? '(none)'}`;
  }
  return null;
}

const built = spawnSync(process.execPath, [build], { stdio: ['ignore', 'ignore', 'inherit'] });
if (built.status !== 0) process.stderr.write('bench cli: the build failed; timing the sources through tsx\n');

const dir = mkdtempSync(path.join(tmpdir(), 'bench-cli-'));
try {
  const input = path.join(dir, 'events.jsonl');
  process.stderr.write(`bench cli: generating ${EVENTS.toLocaleString('en-US')} lines\n`);
  await generate(input);
  let cli = { ms: Number.POSITIVE_INFINITY, peakRssMb: null as number | null };
  let py = { ms: Number.POSITIVE_INFINITY, peakRssMb: null as number | null };
  for (let run = 1; run <= RUNS; run++) {
    process.stderr.write(`bench cli: run ${run} of ${RUNS}: sessions sessionize --gap 30s\n`);
    const c = await timed(process.execPath, [bin, 'sessionize', '--gap', '30s', input], path.join(dir, 'cli.jsonl'));
    if (c.ms < cli.ms) cli = c;
    process.stderr.write(`bench cli: run ${run} of ${RUNS}: python3 bench/reference_sessionize.py --gap 30\n`);
    const p = await timed('python3', [python, input, '--gap', String(GAP_SECONDS)], path.join(dir, 'python.jsonl'));
    if (p.ms < py.ms) py = p;
  }
  const ours = await sessionKeys(path.join(dir, 'cli.jsonl'));
  const theirs = await sessionKeys(path.join(dir, 'python.jsonl'));
  const difference = firstDifference(ours, theirs);
  const eventsPerSec = Math.round((EVENTS * 1000) / cli.ms);
  const pythonEventsPerSec = Math.round((EVENTS * 1000) / py.ms);
  process.stdout.write(
    `${JSON.stringify({
      bench: 'cli',
      events: EVENTS,
      eventsPerSec,
      pythonEventsPerSec,
      speedup: Math.round((eventsPerSec / pythonEventsPerSec) * 10) / 10,
      sessions: ours.length,
      peakRssMb: cli.peakRssMb,
    })}\n`,
  );
  if (difference !== null) {
    process.stderr.write(`bench cli: the sessions differ (${ours.length} vs ${theirs.length}); first difference ${difference}\n`);
    process.exitCode = 1;
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
