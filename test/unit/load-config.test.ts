import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.ts';
import { Throughput } from '../../src/ingest/admission.ts';
import { planAfterFault } from '../../src/ingest/group-failure.ts';

describe('load limits in the configuration', () => {
  it('has the documented defaults', () => {
    expect(loadConfig({}).load).toEqual({
      writerPoolSize: 4,
      maxQueuedEvents: 50_000,
      queryTimeoutMs: 30_000,
      replayMaxClosures: 100_000,
      httpRequestTimeoutMs: 300_000,
      httpHeadersTimeoutMs: 60_000,
      httpKeepAliveTimeoutMs: 5_000,
      httpMaxRequestsPerSocket: 0,
      maxInflightBodyBytes: 67_108_864,
      wsMaxConnections: 10_000,
      wsMaxSubscriptions: 100,
      testFaultEventId: null,
    });
  });

  it('derives MAX_QUEUED_EVENTS from GROUP_COMMIT_MAX_EVENTS, never below four batches', () => {
    expect(loadConfig({ GROUP_COMMIT_MAX_EVENTS: '80000' }).load.maxQueuedEvents).toBe(80_000);
    expect(loadConfig({ GROUP_COMMIT_MAX_EVENTS: '10' }).load.maxQueuedEvents).toBe(40_000);
    expect(loadConfig({ GROUP_COMMIT_MAX_EVENTS: '10', MAX_BATCH_SIZE: '10' }).load.maxQueuedEvents).toBe(40);
  });

  it('refuses a MAX_QUEUED_EVENTS below MAX_BATCH_SIZE and headers timing out after the request', () => {
    expect(() => loadConfig({ MAX_QUEUED_EVENTS: '500', MAX_BATCH_SIZE: '1000' })).toThrow(ConfigError);
    expect(() => loadConfig({ MAX_QUEUED_EVENTS: '500', MAX_BATCH_SIZE: '1000' })).toThrow(/MAX_QUEUED_EVENTS=500/);
    expect(() => loadConfig({ HTTP_HEADERS_TIMEOUT: '30s', HTTP_REQUEST_TIMEOUT: '10s' })).toThrow(/HTTP_HEADERS_TIMEOUT/);
    expect(loadConfig({ QUERY_TIMEOUT: '0' }).load.queryTimeoutMs).toBe(0);
  });
});

describe('planAfterFault', () => {
  it('retries a group whole once, then halves it, then refuses the one job left', () => {
    expect(planAfterFault(['a', 'b', 'c'], 1)).toEqual({ kind: 'retry', parts: [['a', 'b', 'c']], failures: 1 });
    expect(planAfterFault(['a', 'b', 'c'], 2)).toEqual({ kind: 'retry', parts: [['a', 'b'], ['c']], failures: 2 });
    expect(planAfterFault(['a'], 1)).toEqual({ kind: 'retry', parts: [['a']], failures: 1 });
    expect(planAfterFault(['a'], 2)).toEqual({ kind: 'reject', job: 'a' });
    expect(planAfterFault([], 2)).toBeNull();
  });

  it('isolates any one bad job of n within 2 + ceil(log2 n) failed attempts', () => {
    for (const n of [1, 2, 3, 7, 16, 33]) {
      for (let bad = 0; bad < n; bad++) {
        // Simulate: a group fails when it holds the bad job.
        let attempts = 0;
        const queue: Array<{ jobs: number[]; failures: number }> = [{ jobs: Array.from({ length: n }, (_, i) => i), failures: 0 }];
        let refused: number | null = null;
        while (queue.length > 0) {
          const group = queue.shift() as { jobs: number[]; failures: number };
          if (!group.jobs.includes(bad)) continue;
          attempts += 1;
          const plan = planAfterFault(group.jobs, group.failures + 1);
          if (plan?.kind === 'reject') refused = plan.job;
          else if (plan?.kind === 'retry') queue.unshift(...plan.parts.map((jobs) => ({ jobs: [...jobs], failures: plan.failures })));
        }
        expect(refused).toBe(bad);
        expect(attempts).toBeLessThanOrEqual(2 + Math.ceil(Math.log2(n)));
      }
    }
  });
});

describe('Throughput', () => {
  it('answers a default before any commit and the backlog over the measured rate after, within bounds', () => {
    const t = new Throughput();
    expect(t.retryAfterMs(10_000)).toBe(1_000);
    t.record(10_000, 0.5); // 20,000 events/s
    expect(t.retryAfterMs(10_000)).toBe(500);
    expect(t.retryAfterMs(1)).toBe(50);
    expect(t.retryAfterMs(10_000_000)).toBe(30_000);
  });
});
