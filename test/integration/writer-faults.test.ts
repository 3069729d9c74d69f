// The single writer against a real database, with the faults of issue 12:
// an announcement that throws, a full queue (admission control) and a bug
// in the sessionizer path for one event (TEST_FAULT_EVENT_ID's hook).

import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { createTestDatabase, openTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { createLogger } from '../../src/logger.ts';
import type { CodedError } from '../../src/errors.ts';
import { AdmissionRefused } from '../../src/ingest/admission.ts';
import type { ValidEvent } from '../../src/ingest/validate.ts';
import { Writer, type WriterObserver, type WriterOptions } from '../../src/ingest/writer.ts';
import { Lane, Lanes } from '../../src/ingest/lanes.ts';
import { defaultDefinitions } from '../../src/definitions/definitions.ts';
import { Sessionizer } from '../../src/sessionizer/sessionizer.ts';
import type { Database } from '../../src/store/database.ts';
import { applyMigrations } from '../../src/store/migrate.ts';
import { loadClosedFrontiers, loadOpenSessions, loadServiceState } from '../../src/store/session-store.ts';

const GAP_MS = 30 * 60_000;
const LATENESS_MS = 30_000;

/** The writer's lanes: `default` alone, as without SESSION_DEFINITIONS. */
function lanesOf(s: Sessionizer): Lanes {
  const [definition] = defaultDefinitions(s.opts);
  return new Lanes([new Lane(definition!, 'default', s, true)]);
}

function sessionizer(): Sessionizer {
  return new Sessionizer({
    gapMs: GAP_MS,
    maxDurationMs: 24 * 3_600_000,
    allowedLatenessMs: LATENESS_MS,
    conversionEvents: new Set(['purchase']),
    engagedMinDurationMs: 10_000,
    engagedMinEvents: 2,
    newId: randomUUID,
  });
}

/** Counts what the writer reports, as /metrics would. */
class Counts implements WriterObserver {
  commits = 0;
  failures = 0;
  refused = 0;
  rebuilds = 0;
  callbackErrors: string[] = [];
  committed(): void {
    this.commits += 1;
  }
  failed(): void {
    this.failures += 1;
  }
  admissionRefused(): void {
    this.refused += 1;
  }
  rebuilt(): void {
    this.rebuilds += 1;
  }
  callbackFailed(callback: string): void {
    this.callbackErrors.push(callback);
  }
}

/** A gate the writer's transactions wait at (beforeCommit) until it opens. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

const T0 = Date.UTC(2026, 0, 1, 12);
let serial = 0;

function events(userId: string, n: number, prefix = `e${serial++}`): ValidEvent[] {
  return Array.from({ length: n }, (_, i) => ({
    eventId: `${prefix}-${i}`,
    userId,
    name: 'page_view',
    ts: T0 + i * 1_000,
    channelId: null,
    value: null,
    properties: null,
    attribution: null,
  }));
}

describe('the writer under faults', () => {
  let db: TestDatabase;
  let database: Database;
  let writer: Writer | undefined;

  beforeAll(async () => {
    db = await createTestDatabase();
    database = await openTestDatabase(db.url);
    if (db.url === null) await applyMigrations(database.adapterFactory);
  });
  afterAll(async () => {
    await database?.close();
    await db?.drop();
  });
  beforeEach(async () => {
    await writer?.stop();
    writer = undefined;
  });

  async function fromDatabase(): Promise<Lanes> {
    const { prisma } = database;
    const fresh = sessionizer();
    const state = await loadServiceState(prisma);
    const maxTs = state.maxEventTs ?? Number.NEGATIVE_INFINITY;
    const open = await loadOpenSessions(prisma, GAP_MS, null);
    fresh.restore(open, maxTs, await loadClosedFrontiers(prisma, maxTs - LATENESS_MS, GAP_MS, 24 * 3_600_000, null), T0 + 60_000);
    return lanesOf(fresh);
  }

  function start(over: Partial<WriterOptions> & { observer: Counts }): Writer {
    const { prisma } = database;
    writer = new Writer({
      prisma,
      lanes: lanesOf(sessionizer()),
      allowedLatenessMs: LATENESS_MS,
      maxEventsPerCommit: 50_000,
      partitions: 64,
      logger: createLogger('silent'),
      onCommit: () => undefined,
      now: () => T0 + 60_000,
      reload: fromDatabase,
      ...over,
    });
    writer.start();
    return writer;
  }

  async function stored(prefix: string): Promise<number> {
    const rows = await database.prisma.$queryRawUnsafe<Array<{ n: number }>>(`SELECT count(*)::int AS n FROM events WHERE event_id LIKE $1`, `${prefix}%`);
    return rows[0]?.n ?? 0;
  }

  it('an announcement that throws loses no acknowledgement and does not stop the writer', async () => {
    const counts = new Counts();
    const w = start({
      observer: counts,
      onCommit: () => {
        throw new Error('announcement failed');
      },
    });
    await expect(w.ingest(events('ann', 3, 'ann-a'))).resolves.toEqual({ accepted: 3, duplicates: 0 });
    await expect(w.ingest(events('ann', 2, 'ann-b'))).resolves.toEqual({ accepted: 2, duplicates: 0 });
    expect(counts.callbackErrors).toEqual(['onCommit', 'onCommit']);
    expect(await stored('ann-')).toBe(5);
    expect(w.healthy()).toBe(true);
  });

  it('refuses an ingest past maxQueuedEvents at once, with retryAfterMs, and takes it once there is room', async () => {
    const counts = new Counts();
    const held = gate();
    const w = start({ observer: counts, maxQueuedEvents: 10, beforeCommit: () => held.opened });
    const first = w.ingest(events('adm', 6, 'adm-a')); // in the commit, held at the gate
    const second = w.ingest(events('adm', 4, 'adm-b')); // waiting: 10 events admitted
    expect(w.pending()).toBe(10);
    const refusal = await w.ingest(events('adm', 1, 'adm-c')).then(
      () => null,
      (error: unknown) => error,
    );
    expect(refusal).toBeInstanceOf(AdmissionRefused);
    expect((refusal as CodedError).extensions).toMatchObject({ code: 'SERVICE_UNAVAILABLE', reason: 'OVERLOADED' });
    expect((refusal as AdmissionRefused).retryAfterMs).toBeGreaterThan(0);
    expect(counts.refused).toBe(1);
    held.open();
    await expect(Promise.all([first, second])).resolves.toEqual([
      { accepted: 6, duplicates: 0 },
      { accepted: 4, duplicates: 0 },
    ]);
    expect(w.pending()).toBe(0);
    await expect(w.ingest(events('adm', 1, 'adm-c'))).resolves.toEqual({ accepted: 1, duplicates: 0 });
    expect(await stored('adm-')).toBe(11);
  });

  it('a batch larger than the bound is taken when the writer is empty', async () => {
    const w = start({ observer: new Counts(), maxQueuedEvents: 5 });
    await expect(w.ingest(events('big', 8, 'big-a'))).resolves.toEqual({ accepted: 8, duplicates: 0 });
  });

  it('a fault in one mutation fails only that one, every time, and the others of its group commit', async () => {
    const counts = new Counts();
    const held = gate();
    let hold = true;
    const w = start({ observer: counts, faultEventId: 'poison-1', beforeCommit: () => (hold ? held.opened : Promise.resolve()) });
    // The first group takes one mutation and waits at the gate: the next seven queue behind it and form one group.
    const opener = w.ingest(events('fault-u0', 1, 'fault-open'));
    const innocent = Array.from({ length: 6 }, (_, i) => w.ingest(events(`fault-u${i + 1}`, 3, `fault-ok${i}`)));
    const poison = w.ingest([...events('fault-bad', 2, 'fault-bad'), { ...events('fault-bad', 1, 'x')[0]!, eventId: 'poison-1' }]);
    hold = false;
    held.open();
    const results = await Promise.allSettled([opener, ...innocent, poison]);
    expect(results.slice(0, 7).map((r) => r.status)).toEqual(Array(7).fill('fulfilled'));
    const failure = results[7];
    expect(failure?.status).toBe('rejected');
    expect(((failure as PromiseRejectedResult).reason as CodedError).extensions['code']).toBe('INTERNAL_SERVER_ERROR');
    expect(await stored('fault-ok')).toBe(18);
    expect(await stored('fault-open')).toBe(1);
    expect(await stored('fault-bad')).toBe(0);
    // A group of 7: retried whole once, then halves of 4, 2, 1 => 2 + 3 failures at most, one rebuild each.
    expect(counts.failures).toBeGreaterThanOrEqual(2);
    expect(counts.failures).toBeLessThanOrEqual(5);

    // Sent again, alone: it fails the same way, after exactly two attempts.
    const before = counts.rebuilds;
    const again = await w.ingest([{ ...events('fault-bad', 1, 'y')[0]!, eventId: 'poison-1' }]).then(
      () => null,
      (error: unknown) => error as CodedError,
    );
    expect(again?.extensions['code']).toBe('INTERNAL_SERVER_ERROR');
    // No loop: the next commit (queued behind the rebuild of the second failure) costs no further rebuild.
    await expect(w.ingest(events('fault-after', 2, 'fault-after'))).resolves.toEqual({ accepted: 2, duplicates: 0 });
    expect(counts.rebuilds - before).toBe(2);
    await expect(w.ingest(events('fault-after', 1, 'fault-after2'))).resolves.toEqual({ accepted: 1, duplicates: 0 });
    expect(counts.rebuilds - before).toBe(2);
    expect(w.healthy()).toBe(true);
  });

  it('a fault whose rebuild finds the database gone answers its callers SERVICE_UNAVAILABLE and recovers, leaving none waiting', async () => {
    const counts = new Counts();
    // The rebuild after the fault fails twice (the database went away with it), then works.
    let reloadFailures = 2;
    const w = start({
      observer: counts,
      faultEventId: 'gone-1',
      reload: async () => {
        if (reloadFailures > 0) {
          reloadFailures -= 1;
          throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
        }
        return fromDatabase();
      },
    });
    const refused = await w.ingest([{ ...events('gone', 1, 'gone-x')[0]!, eventId: 'gone-1' }]).then(
      () => null,
      (error: unknown) => error as CodedError,
    );
    expect(refused?.extensions['code']).toBe('SERVICE_UNAVAILABLE');
    // It keeps trying to rebuild (refusing ingest meanwhile) until the database answers.
    await vi.waitFor(() => expect(w.healthy()).toBe(true), { timeout: 10_000, interval: 20 });
    await expect(w.ingest(events('gone-after', 2, 'gone-after'))).resolves.toEqual({ accepted: 2, duplicates: 0 });
    expect(reloadFailures).toBe(0);
    expect(w.healthy()).toBe(true);
  });
});
