/**
 * Sessionizer throughput and memory benchmark (no store, no I/O).
 *
 *   npx tsx bench/sessionizer.ts
 *
 * Re-runs itself as `node --expose-gc --import tsx bench/sessionizer.ts` when
 * global.gc is missing. Prints one JSON line:
 * - eventsPerSec: 1M events of 100k users in batches of 1000 through
 *   beginBatch/apply/nextDeadline+advanceTime/drainChanges, best of 5 runs
 *   after a warm-up (medianEventsPerSec beside it);
 * - bytesPerOpenSession: heap growth per open session (after GC) with 100k
 *   open sessions of 3 events each, id strings they keep included.
 */
import { spawnSync } from 'node:child_process';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Sessionizer } from '../src/sessionizer/sessionizer.ts';
import type { SessionEvent, SessionizerOptions } from '../src/sessionizer/types.ts';
import { rng } from '../test/helpers/random.ts';

const EVENTS = 1_000_000;
const USERS = 100_000;
const BATCH = 1_000;
const MEMORY_SESSIONS = 100_000;
const T0 = Date.UTC(2025, 0, 1);
const SPAN_MS = 3 * 24 * 3_600_000; // three days of traffic
const JITTER_MS = 5_000; // arrival up to 5 s late, inside the 30 s lateness

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) {
  const self = fileURLToPath(import.meta.url);
  const r = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', self], { stdio: 'inherit' });
  process.exit(r.status ?? 1);
}

function options(): SessionizerOptions {
  let n = 0;
  return {
    gapMs: 30 * 60_000,
    maxDurationMs: 24 * 3_600_000,
    allowedLatenessMs: 30_000,
    conversionEvents: new Set(['purchase']),
    engagedMinDurationMs: 10_000,
    engagedMinEvents: 2,
    newId: () => `s${++n}`,
  };
}


const NAMES = ['page_view', 'page_view', 'page_view', 'page_view', 'page_view', 'page_view', 'page_view', 'click', 'click', 'add_to_cart', 'purchase'];
const CHANNELS = ['web', 'web', 'ios', 'android', null];

/**
 * The stream, kept in typed arrays: event objects are made batch by batch
 * (outside the timed section), as a parser would hand them over, so the heap
 * does not hold a million events while the sessionizer runs.
 *
 * Traffic is made of visits: 1 + geometric(mean 7) events about 40 s apart,
 * with a 5% chance of a 35-90 min pause inside a visit (a second session),
 * at uniformly random times over three days. Every user makes one visit;
 * the other visits come half from uniformly chosen users and half from a
 * skewed population (u^3: the top hundred users have dozens of sessions).
 * Ten bots send an event every minute for three days (cut by the 24 h cap).
 */
interface Stream {
  count: number;
  seed: number;
  ts: Float64Array;
  user: Int32Array;
  name: Uint8Array;
  channel: Uint8Array;
  value: Float64Array;
}

const BOTS = 10;

function generate(count: number, seed: number): Stream {
  const r = rng(seed);
  const ts = new Float64Array(count);
  const user = new Int32Array(count);
  let n = 0;
  for (let b = 0; b < BOTS && n < count; b++) {
    for (let t = T0 + b * 1_000; t < T0 + SPAN_MS && n < count / 20; t += 60_000) {
      ts[n] = t;
      user[n++] = b;
    }
  }
  for (let visit = 0; n < count; visit++) {
    const x = r();
    const u = visit < USERS ? visit : r() < 0.5 ? Math.floor(USERS * x * x * x) : Math.floor(USERS * x);
    let t = T0 + r() * SPAN_MS;
    const len = 1 + Math.floor(Math.log(1 - r()) / Math.log(7 / 8));
    for (let k = 0; k < len && n < count; k++) {
      ts[n] = Math.floor(t);
      user[n++] = u;
      t += r() < 0.05 ? 35 * 60_000 + r() * 55 * 60_000 : -Math.log(1 - r()) * 40_000;
    }
  }
  // Arrival order: by time, each event late by up to JITTER_MS.
  const arrival = new Float64Array(count);
  for (let i = 0; i < count; i++) arrival[i] = (ts[i] as number) + r() * JITTER_MS;
  const order = Array.from({ length: count }, (_, i) => i).sort((a, b) => (arrival[a] as number) - (arrival[b] as number));
  const s: Stream = {
    count,
    seed,
    ts: new Float64Array(count),
    user: new Int32Array(count),
    name: new Uint8Array(count),
    channel: new Uint8Array(count),
    value: new Float64Array(count),
  };
  for (let i = 0; i < count; i++) {
    const j = order[i] as number;
    s.ts[i] = ts[j] as number;
    s.user[i] = user[j] as number;
    s.name[i] = Math.floor(r() * NAMES.length);
    s.channel[i] = Math.floor(r() * CHANNELS.length);
    s.value[i] = Math.round(r() * 10_000) / 100;
  }
  return s;
}

function materialize(s: Stream, from: number, to: number): SessionEvent[] {
  const out = new Array<SessionEvent>(to - from);
  for (let i = from; i < to; i++) {
    const name = NAMES[s.name[i] as number] as string;
    out[i - from] = {
      eventId: `e${s.seed}-${i}`,
      userId: `u${s.user[i] as number}`, // a fresh string per event, as a parser would produce
      name,
      ts: s.ts[i] as number,
      channelId: CHANNELS[s.channel[i] as number] ?? null,
      value: name === 'purchase' ? (s.value[i] as number) : null,
    };
  }
  return out;
}

interface RunStats {
  ms: number;
  changes: number;
  sessions: number;
  deferred: number;
}

/** Times beginBatch, apply, nextDeadline/advanceTime and drainChanges only. */
function run(stream: Stream): RunStats {
  const sz = new Sessionizer(options());
  let changes = 0;
  let sessions = 0;
  let deferred = 0;
  let ms = 0;
  for (let i = 0; i < stream.count; i += BATCH) {
    const batch = materialize(stream, i, Math.min(stream.count, i + BATCH));
    const now = (batch[batch.length - 1] as SessionEvent).ts + 1_000; // wall clock just after the events
    const start = performance.now();
    sz.beginBatch();
    deferred += sz.apply(batch, now).length;
    const deadline = sz.nextDeadline();
    if (deadline !== null && deadline <= now) sz.advanceTime(now);
    const drained = sz.drainChanges();
    ms += performance.now() - start;
    changes += drained.length;
    for (const c of drained) if (c.kind === 'started') sessions++;
  }
  return { ms, changes, sessions, deferred };
}

function heapUsed(): number {
  for (let i = 0; i < 3; i++) (gc as () => void)();
  return process.memoryUsage().heapUsed;
}

/** Heap per open session (state, indexes, timers, retained id strings) for 100k sessions of 3 events. */
function bytesPerOpenSession(): number {
  const events: SessionEvent[] = [];
  for (let u = 0; u < MEMORY_SESSIONS; u++) {
    for (let k = 0; k < 3; k++) {
      events.push({
        eventId: `m-${u}-${k}`,
        userId: `mu${u}`,
        name: k === 0 ? 'page_view' : 'click',
        ts: T0 + u * 3 + k, // increasing overall: nothing falls behind the watermark
        channelId: k === 2 ? 'ios' : 'web',
        value: null,
      });
    }
  }
  const before = heapUsed();
  let sz: Sessionizer | null = new Sessionizer(options());
  for (let i = 0; i < events.length; i += BATCH) {
    sz.beginBatch();
    sz.apply(events.slice(i, i + BATCH), T0);
    sz.drainChanges();
  }
  events.length = 0; // sessions keep only what they need
  const open = sz.openCount();
  const after = heapUsed();
  if (open !== MEMORY_SESSIONS) throw new Error(`expected ${MEMORY_SESSIONS} open sessions, got ${open}`);
  const bytes = Math.round((after - before) / open);
  sz = null;
  return bytes;
}

const RUNS = Number(process.env['BENCH_RUNS'] ?? 5);
run(generate(200_000, 7)); // warm-up: let the JIT settle
const stream = generate(EVENTS, 42);
const runs: RunStats[] = [];
for (let i = 0; i < RUNS; i++) runs.push(run(stream));
// Best of RUNS: the machine may be shared; the best run is the least disturbed.
const best = runs.reduce((a, b) => (b.ms < a.ms ? b : a));
const median = [...runs].sort((a, b) => a.ms - b.ms)[Math.floor(RUNS / 2)] as RunStats;
const bytes = bytesPerOpenSession();
console.log(
  JSON.stringify({
    bench: 'sessionizer',
    events: EVENTS,
    users: USERS,
    eventsPerSec: Math.round((EVENTS / best.ms) * 1_000),
    bytesPerOpenSession: bytes,
    medianEventsPerSec: Math.round((EVENTS / median.ms) * 1_000),
    runs: RUNS,
    batch: BATCH,
    bestMs: Math.round(best.ms),
    sessions: best.sessions,
    changes: best.changes,
    deferredUsers: best.deferred,
    node: process.version,
    cpu: cpus()[0]?.model ?? 'unknown',
  }),
);
