/**
 * Late events on real-looking files, end to end: a day of traffic in the
 * shapes of bench/cli-files.ts, sent with `sessions ingest` (the CLI, by
 * default 8 mutations of 1000 events in flight) to the service on a fresh database, once in arrival
 * order and once with every twentieth line (5%) delivered 5 minutes to 3
 * hours of event time later, far beyond ALLOWED_LATENESS (5 s), as a device
 * that was offline sends them. Both runs in the same process, one after the
 * other; prints per shape the two rates, their ratio (issue 13's bar: at
 * least 0.5) and whether both databases hold the same sessions (user, start,
 * end, events, top channel): the final sessions may not depend on the
 * arrival order.
 *
 * Env: BENCH_LATE_LINES (default 300000), BENCH_LATE_SHAPES (default seed,export,nested),
 * BENCH_LATE_CONCURRENCY (mutations in flight, default 8), BENCH_LATE_BATCH (events per mutation, default 1000).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { SHAPES, generate, type Shape } from './cli-files.ts';
import { createTestDatabase } from '../test/helpers/database.ts';
import { startProcess } from '../test/helpers/process.ts';
import { rng } from '../test/helpers/random.ts';

const LINES = Number(process.env['BENCH_LATE_LINES'] ?? 300_000);
const WANTED = (process.env['BENCH_LATE_SHAPES'] ?? 'seed,export,nested').split(',');
const CONCURRENCY = process.env['BENCH_LATE_CONCURRENCY'] ?? '8';
const BATCH = process.env['BENCH_LATE_BATCH'] ?? '1000';
const MINUTE = 60_000;

/** The event time (ms) of a line of any shape of bench/cli-files.ts. */
function timeOf(line: string): number {
  const o = JSON.parse(line) as Record<string, unknown>;
  const t = o['timestamp'] ?? o['ts'] ?? o['time'];
  if (typeof t === 'number') return t < 1e11 ? t * 1000 : t;
  return Date.parse(String(t));
}

/** The same lines, every twentieth delivered 5 min to 3 h (event time) after its place. */
function delayed(lines: readonly string[]): string[] {
  const random = rng(5);
  const keyed = lines.map((line, i) => ({ line, at: timeOf(line) + (i % 20 === 7 ? 5 * MINUTE + random() * 175 * MINUTE : 0) }));
  keyed.sort((a, b) => a.at - b.at);
  return keyed.map((k) => k.line);
}

/** Ingests a file into a fresh database; the seconds it took and the stored sessions as comparable lines. */
async function ingest(file: string): Promise<{ seconds: number; sessions: string[] }> {
  const db = await createTestDatabase();
  if (db.url === null) throw new Error('the late benchmark needs a Postgres server (TEST_DATABASE_URL)');
  try {
    const service = await startProcess({ DATABASE_URL: db.url, SESSION_GAP: '30s', ALLOWED_LATENESS: '5s', DATABASE_POOL_SIZE: '4' });
    const started = performance.now();
    try {
      await new Promise<void>((resolve, reject) => {
        const child = spawn(process.execPath, ['bin/sessions.js', 'ingest', file, '--url', service.url, '--concurrency', CONCURRENCY, '--batch', BATCH], {
          stdio: ['ignore', 'ignore', 'pipe'],
        });
        let stderr = '';
        child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
        child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`sessions ingest exited with ${code}: ${stderr.slice(-500)}`))));
      });
    } finally {
      await service.stop('SIGTERM');
    }
    const seconds = (performance.now() - started) / 1000;
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      const rows = await client.query<{ k: string }>(
        `SELECT concat_ws(' ', user_id, (extract(epoch FROM started_at) * 1000)::bigint, (extract(epoch FROM ended_at) * 1000)::bigint,
           event_count, top_channel) AS k FROM sessions ORDER BY 1`,
      );
      return { seconds, sessions: rows.rows.map((r) => r.k) };
    } finally {
      await client.end();
    }
  } finally {
    await db.drop();
  }
}

async function benchShape(shape: Shape, dir: string): Promise<Record<string, unknown>> {
  const inOrder = path.join(dir, `${shape.name}.jsonl`);
  const late = path.join(dir, `${shape.name}-late.jsonl`);
  await generate(shape, LINES, inOrder);
  const lines = readFileSync(inOrder, 'utf8').split('\n').filter(Boolean);
  writeFileSync(late, `${delayed(lines).join('\n')}\n`);
  const a = await ingest(inOrder);
  const b = await ingest(late);
  const same = a.sessions.length === b.sessions.length && a.sessions.every((s, i) => s === b.sessions[i]);
  return {
    bench: 'late',
    shape: shape.name,
    lines: lines.length,
    inOrderEventsPerSec: Math.round(lines.length / a.seconds),
    lateEventsPerSec: Math.round(lines.length / b.seconds),
    ratio: Number((a.seconds / b.seconds).toFixed(2)),
    sessions: a.sessions.length,
    sameSessions: same,
    concurrency: Number(CONCURRENCY),
    batch: Number(BATCH),
    cpus: os.cpus().length,
  };
}

const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-late-'));
try {
  for (const shape of SHAPES.filter((s) => WANTED.includes(s.name))) {
    const result = await benchShape(shape, dir);
    process.stdout.write(`${JSON.stringify(result)}\n`);
    if (result['sameSessions'] !== true) process.exitCode = 1;
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
