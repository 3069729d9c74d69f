import { INGEST, toInput } from './events.ts';
import { gql, gqlData } from './graphql.ts';
import { startProcess, type ServiceProcess } from './process.ts';
import type { RefEvent } from './reference.ts';

export { waitUntil } from './wait.ts';

/** Starts `n` service processes on one database at once. */
export function startInstances(n: number, env: Record<string, string>): Promise<ServiceProcess[]> {
  return Promise.all(Array.from({ length: n }, () => startProcess(env)));
}

const CLUSTER = '{ cluster { self partitions instances { id url alive leaving partitions } } }';

/** The cluster as one instance sees it. */
export async function clusterState(url: string): Promise<{ self: string; partitions: number; instances: Array<{ id: string; alive: boolean; partitions: number[] }> }> {
  return (await gqlData(url, CLUSTER))['cluster'];
}

/**
 * True when exactly `instances` live instances own every partition between
 * them, each within one partition of an even share.
 */
export async function balanced(url: string, instances: number): Promise<boolean> {
  const state = await clusterState(url);
  const live = state.instances.filter((i) => i.alive);
  const counts = live.map((i) => i.partitions.length);
  return (
    live.length === instances &&
    counts.reduce((a, b) => a + b, 0) === state.partitions &&
    Math.max(...counts) - Math.min(...counts) <= 1
  );
}

/**
 * Sends a batch the way a careful client does: to a random instance among
 * `targets()`, and on a refusal that says "retry" (SERVICE_UNAVAILABLE,
 * SHUTTING_DOWN) or a broken connection, again elsewhere. Returns the
 * number of attempts that failed.
 */
export async function sendWithRetry(targets: () => ServiceProcess[], batch: readonly RefEvent[], random: () => number, attempts = 40): Promise<number> {
  let failed = 0;
  for (let attempt = 0; attempt < attempts; attempt++) {
    const live = targets();
    const target = live[Math.floor(random() * live.length)];
    if (target === undefined) throw new Error('no instance to send to');
    try {
      const result = await gql(target.url, INGEST, { events: batch.map(toInput) });
      if (result.errors === undefined || result.errors.length === 0) return failed;
      const code = result.errors[0]?.extensions?.code;
      if (code !== 'SERVICE_UNAVAILABLE' && code !== 'SHUTTING_DOWN') throw new Error(`unexpected error: ${JSON.stringify(result.errors)}`);
    } catch (error) {
      if (error instanceof Error && error.message.startsWith('unexpected error')) throw error;
    }
    failed++;
    await new Promise((resolve) => setTimeout(resolve, 50 + attempt * 50));
  }
  throw new Error(`batch not accepted after ${attempts} attempts`);
}
