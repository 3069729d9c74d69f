import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { balanced, sendWithRetry, startInstances, waitUntil } from '../helpers/cluster.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { generateEvents, INGEST, inParallel, randomBatches, shuffleWithin, toInput } from '../helpers/events.ts';
import { collect, gql, gqlData, wsClient } from '../helpers/graphql.ts';
import { startProcess, type ServiceProcess } from '../helpers/process.ts';
import { referenceSessions, rng, type RefEvent } from '../helpers/reference.ts';
import { allSessions, comparable, roundValues, sortSessions } from '../helpers/sessions.ts';

const RULES = {
  gapMs: 300_000,
  maxDurationMs: 3_600_000,
  conversionEvents: ['purchase'],
  engagedMinDurationMs: 10_000,
  engagedMinEvents: 2,
};
const BASE_ENV = { SESSION_GAP: '5m', SESSION_MAX_DURATION: '1h', ALLOWED_LATENESS: '30s', CLUSTER_FAILOVER: '3s' };

function workload(seed: number, users: number): { events: RefEvent[]; batches: RefEvent[][]; random: () => number } {
  const random = rng(seed);
  const events = generateEvents({ users, eventsPerUser: 40, startMs: Date.parse('2026-06-01T00:00:00Z'), ...RULES, random });
  const sorted = [...events].sort((a, b) => a.ts - b.ts || (a.eventId < b.eventId ? -1 : 1));
  // Within ALLOWED_LATENESS: sessions close once, and the closures a subscriber gets are the final sessions.
  const batches = randomBatches(shuffleWithin(sorted, 20_000, random), 40, random);
  return { events, batches, random };
}

async function expectExact(url: string, events: RefEvent[]): Promise<Array<Record<string, any>>> {
  await gqlData(url, 'mutation { flushSessions { closed } }');
  const stored = await allSessions(url);
  expect(new Set(stored.map((s) => s['id'])).size).toBe(stored.length);
  expect(roundValues(sortSessions(stored.map(comparable)))).toEqual(roundValues(referenceSessions(events, RULES)));
  return stored;
}

describe('cluster: several instances on one database', () => {
  let db: TestDatabase;
  let instances: ServiceProcess[] = [];
  let env: Record<string, string>;

  beforeEach(async (context) => {
    // The first test starts three instances at once on an empty database: they migrate it together.
    db = await createTestDatabase({ migrate: !context.task.name.startsWith('balances') });
    // Several processes need a database server: embedded PGlite is one process's.
    if (db.url === null) throw new Error('the cluster tests need the Postgres server on 127.0.0.1:5432');
    env = { ...BASE_ENV, DATABASE_URL: db.url };
  });
  afterEach(async () => {
    await Promise.all(instances.map((i) => i.stop('SIGKILL')));
    instances = [];
    await db?.drop();
  });
  afterAll(async () => {
    await Promise.all(instances.map((i) => i.stop('SIGKILL')));
  });

  it('balances, stores exactly the reference sessions from any instance, and every subscriber gets every closure once, in cursor order', async () => {
    instances = await startInstances(3, env);
    const [a, b, c] = instances as [ServiceProcess, ServiceProcess, ServiceProcess];
    await waitUntil(() => balanced(a.url, 3), 'three instances to share the partitions');

    const client = wsClient(a.wsUrl);
    const closures = collect<{ id: string; closeCursor: string }>(client, 'subscription { sessionClosed { id closeCursor } }');
    const merges = collect<{ mergedId: string }>(client, 'subscription { sessionMerged { mergedId } }');
    // The subscription is live once it sees closures: flush a throwaway user through another instance until one arrives.
    const probe = { eventId: 'probe', userId: 'probe-user', name: 'page_view', ts: Date.parse('2026-05-01T00:00:00Z') };
    await gqlData(b.url, INGEST, { events: [toInput(probe)] });
    await waitUntil(async () => {
      await gqlData(c.url, 'mutation { flushSessions { closed } }');
      return closures.items.length > 0;
    }, 'the subscription to go live');
    closures.items.splice(0);

    const { events, batches, random } = workload(11, 60);
    let failures = 0;
    await inParallel(batches, 6, async (batch) => {
      failures += await sendWithRetry(() => instances, batch, random);
    });
    expect(failures).toBe(0);
    const stored = await expectExact(c.url, [...events, probe]);

    const final = stored.filter((s) => s['userId'] !== 'probe-user');
    const finalIds = new Set(final.map((s) => s['id'] as string));
    await waitUntil(async () => finalIds.size > 0 && [...finalIds].every((id) => closures.items.some((x) => x.id === id)), 'every closure', 30_000);
    const ids = closures.items.map((x) => x.id);
    expect(new Set(ids).size).toBe(ids.length);
    // Every session closed once; a closure of a session that no longer exists is one a later correction merged away
    // (a MAX_DURATION cut moved by an event within the lateness), which the subscriber was told on sessionMerged.
    const merged = new Set(merges.items.map((m) => m.mergedId));
    expect(ids.filter((id) => !finalIds.has(id)).every((id) => merged.has(id))).toBe(true);
    const cursors = closures.items.map((x) => BigInt(x.closeCursor));
    expect(cursors.every((cursor, i) => i === 0 || cursor > (cursors[i - 1] as bigint))).toBe(true);

    // Resuming on another instance from any cursor gives exactly what followed it (a session merged away since
    // no longer exists to replay).
    const k = Math.floor(ids.length / 3);
    const followed = ids.slice(k + 1).filter((id) => finalIds.has(id));
    const resumed = wsClient(c.wsUrl);
    const replay = collect<{ id: string }>(resumed, 'subscription($after: String) { sessionClosed(after: $after) { id } }', {
      after: closures.items[k]?.closeCursor,
    });
    await replay.waitFor(followed.length, 20_000);
    expect(replay.items.map((x) => x.id)).toEqual(followed);
    await resumed.dispose();
    await client.dispose();
  }, 300_000);

  it('loses nothing and doubles nothing when an instance is killed (kill -9) during ingestion and comes back', async () => {
    instances = await startInstances(3, env);
    await waitUntil(() => balanced((instances[0] as ServiceProcess).url, 3), 'three instances to share the partitions');
    const { events, batches, random } = workload(12, 60);
    const third = Math.floor(batches.length / 3);
    const send = (part: RefEvent[][]): Promise<void> =>
      inParallel(part, 6, async (batch) => {
        await sendWithRetry(() => instances.filter((i) => i.child.exitCode === null && i.child.signalCode === null), batch, random);
      });
    await send(batches.slice(0, third));
    const victim = instances[1] as ServiceProcess;
    const during = send(batches.slice(third, 2 * third));
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(await victim.stop('SIGKILL')).toBeNull();
    await during;
    const survivor = instances[0] as ServiceProcess;
    await waitUntil(() => balanced(survivor.url, 2), 'the survivors to take the dead instance partitions');
    instances[1] = await startProcess(env);
    await send(batches.slice(2 * third));
    await waitUntil(() => balanced(survivor.url, 3), 'the restarted instance to take its share');
    const stored = await expectExact(survivor.url, events);
    expect(stored.reduce((sum, s) => sum + (s['eventCount'] as number), 0)).toBe(new Set(events.map((e) => e.eventId)).size);
  }, 300_000);

  it('fails no request sent to a live instance during a rolling SIGTERM restart under load', async () => {
    instances = await startInstances(3, env);
    await waitUntil(() => balanced((instances[0] as ServiceProcess).url, 3), 'three instances to share the partitions');
    const { events, batches, random } = workload(13, 40);
    const stopping = new Set<ServiceProcess>();
    const failures: string[] = [];
    let next = 0;
    let done = false;
    const load = Promise.all(
      Array.from({ length: 4 }, async () => {
        while (!done || next < batches.length) {
          const batch = batches[next++ % batches.length] as RefEvent[];
          const live = instances.filter((i) => !stopping.has(i));
          const target = live[Math.floor(random() * live.length)] as ServiceProcess;
          const result = await gql(target.url, INGEST, { events: batch.map(toInput) }).catch((error: unknown) => ({ errors: [{ message: String(error) }] }));
          if (result.errors !== undefined) failures.push(JSON.stringify(result.errors));
          if (done && next >= batches.length) break;
        }
      }),
    );
    for (let i = 0; i < instances.length; i++) {
      const old = instances[i] as ServiceProcess;
      stopping.add(old);
      expect(await old.stop('SIGTERM')).toBe(0);
      const fresh = await startProcess(env);
      instances[i] = fresh;
      await waitUntil(() => balanced(fresh.url, 3), 'the restarted instance to take its share');
    }
    done = true;
    await load;
    expect(failures).toEqual([]);
    // Every batch was sent at least once (the load loops over them until done).
    for (const batch of batches) await gqlData((instances[0] as ServiceProcess).url, INGEST, { events: batch.map(toInput) });
    await expectExact((instances[2] as ServiceProcess).url, events);
  }, 300_000);

  it('fences an owner frozen (SIGSTOP) past the failover time: once continued it commits nothing for the partitions that moved', async () => {
    instances = await startInstances(2, env);
    const [frozen, other] = instances as [ServiceProcess, ServiceProcess];
    await waitUntil(() => balanced(other.url, 2), 'two instances to share the partitions');
    const { events, batches, random } = workload(14, 40);
    const half = Math.floor(batches.length / 2);
    await inParallel(batches.slice(0, half), 4, async (batch) => {
      await sendWithRetry(() => instances, batch, random);
    });

    frozen.child.kill('SIGSTOP');
    await waitUntil(() => balanced(other.url, 1), 'the other instance to own every partition');
    // A request that reaches the frozen instance is answered only after it continues.
    const late = batches.slice(half, half + 5).flat();
    const pending = gql(frozen.url, INGEST, { events: late.map(toInput) });
    await inParallel(batches.slice(half), 4, async (batch) => {
      await sendWithRetry(() => [other], batch, random);
    });
    frozen.child.kill('SIGCONT');
    const answer = await pending;
    // Either its writer was fenced and the events went to the new owner, or it answers that nothing was saved.
    if (answer.errors !== undefined) expect(answer.errors[0]?.extensions?.code).toBe('SERVICE_UNAVAILABLE');
    await waitUntil(async () => frozen.logs.some((l) => String(l['msg']).startsWith('cluster: partition was taken by another instance')), 'the frozen instance to notice');
    await waitUntil(() => balanced(other.url, 2), 'the two instances to share again');
    for (const batch of batches) await gqlData(other.url, INGEST, { events: batch.map(toInput) });
    await expectExact(frozen.url, events);
  }, 300_000);
});
