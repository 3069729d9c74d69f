import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { ForwardObserver } from './forward-client.ts';
import type { OwnershipObserver } from './ownership.ts';

/** Forward latencies from 1 ms to 10 s (seconds). */
const FORWARD_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** The cluster's metrics, on the service's registry (GET /metrics of each instance). */
export class ClusterMetrics implements OwnershipObserver, ForwardObserver {
  private readonly forwardedEvents: Counter<'result'>;
  private readonly forwardSeconds: Histogram;
  private readonly claims: Counter<'kind'>;
  private readonly handovers: Counter;

  constructor(registry: Registry, ownedPartitions: () => number) {
    const registers = [registry];
    new Gauge({
      name: 'sessions_cluster_partitions_owned',
      help: 'User partitions this instance owns',
      registers,
      collect() {
        this.set(ownedPartitions());
      },
    });
    this.forwardedEvents = new Counter({
      name: 'sessions_cluster_forwarded_events_total',
      help: 'Events sent to the instance owning their partition, by result (ok, or retry: routed again)',
      labelNames: ['result'],
      registers,
    });
    this.forwardSeconds = new Histogram({
      name: 'sessions_cluster_forward_duration_seconds',
      help: 'Duration of one forward to another instance, until its commit answered (seconds)',
      buckets: FORWARD_BUCKETS,
      registers,
    });
    this.claims = new Counter({
      name: 'sessions_cluster_partitions_claimed_total',
      help: 'Partitions this instance took: free ones (claim) or those of a dead instance (failover)',
      labelNames: ['kind'],
      registers,
    });
    this.handovers = new Counter({
      name: 'sessions_cluster_partitions_handed_over_total',
      help: 'Partitions this instance gave to the others (balance, or SIGTERM)',
      registers,
    });
    this.forwardedEvents.inc({ result: 'ok' }, 0);
    this.claims.inc({ kind: 'failover' }, 0);
  }

  forwarded(events: number, seconds: number, ok: boolean): void {
    this.forwardedEvents.inc({ result: ok ? 'ok' : 'retry' }, events);
    this.forwardSeconds.observe(seconds);
  }

  claimed(count: number, failover: boolean): void {
    this.claims.inc({ kind: failover ? 'failover' : 'claim' }, count);
  }

  released(count: number): void {
    this.handovers.inc(count);
  }
}
