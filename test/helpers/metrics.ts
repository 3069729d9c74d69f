import type { RunningService } from '../../src/service.ts';
import { waitUntil } from './wait.ts';

/** Where to read a service's metrics: its registry (same process), or GET /metrics at `base` (a child process, keyed). */
export type MetricsSource = RunningService | { readonly base: string; readonly headers?: Record<string, string> };

/** Parses the Prometheus text format into `name{labels}` -> value. */
export function parseMetrics(text: string): Map<string, number> {
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    values.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return values;
}

/** Every sample of the service's metrics now. */
export async function readMetrics(source: MetricsSource): Promise<Map<string, number>> {
  if ('metrics' in source) return parseMetrics(await source.metrics.render());
  const response = await fetch(`${source.base}/metrics`, { headers: source.headers ?? {} });
  if (response.status !== 200) throw new Error(`GET /metrics answered ${response.status}`);
  return parseMetrics(await response.text());
}

/**
 * Resolves with the value of `sample` (`name` or `name{labels}`) once `ok`
 * holds for it; rejects after `timeoutMs` (default 30 s) with the last value.
 */
export async function waitForMetric(
  source: MetricsSource,
  sample: string,
  ok: (value: number) => boolean,
  timeoutMs = 30_000,
): Promise<number> {
  let last: number | undefined;
  await waitUntil(
    async () => {
      last = (await readMetrics(source)).get(sample);
      return last !== undefined && ok(last);
    },
    () => `${sample} to satisfy ${ok.toString()} (last value ${String(last)})`,
    timeoutMs,
  );
  return last as number;
}

/**
 * Resolves once the service holds exactly `n` live subscriptions: they are
 * registered on the session bus and receive what is published from then on.
 */
export function subscriptionsReach(source: MetricsSource, n: number, timeoutMs = 30_000): Promise<number> {
  return waitForMetric(source, 'sessions_subscriptions_active', (value) => value === n, timeoutMs);
}
