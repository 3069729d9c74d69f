import type { IngestPort } from '../ingest/port.ts';
import { CodedError, codeOf, ErrorCode } from '../errors.ts';
import { isAdmissionRefusal } from '../ingest/admission.ts';
import type { ValidEvent } from '../ingest/validate.ts';
import type { Writer } from '../ingest/writer.ts';
import type { Logger } from '../logger.ts';
import { FencedError } from './cluster-store.ts';
import { forwardFlush, forwardIngest, RetryElsewhere, type ForwardObserver } from './forward-client.ts';
import type { Ownership, Route } from './ownership.ts';
import { partitionOf } from './partition.ts';

export interface ClusterIngestOptions {
  readonly writer: Writer;
  readonly ownership: Ownership;
  readonly partitions: number;
  readonly secret: string;
  /** How long an owner change during a request is retried before SERVICE_UNAVAILABLE, ms. */
  readonly retryMs: number;
  /** Longest one forward may take, ms. */
  readonly forwardTimeoutMs: number;
  /** The other live instances' URLs (flushSessions reaches every one). */
  readonly peers: () => Promise<Array<{ id: string; url: string }>>;
  readonly logger: Logger;
  readonly observer?: ForwardObserver;
}

/** Counts of one committed part. */
type Counts = { accepted: number; duplicates: number };

/** One part of a batch: the events of the partitions that go to one place. */
interface Part {
  readonly route: Route;
  readonly events: ValidEvent[];
}

function unavailable(): CodedError {
  return new CodedError(ErrorCode.Unavailable, 'the owner of some of these users could not be reached; what was not saved can be sent again (retries are idempotent)');
}

/**
 * Ingest through the cluster: each event goes to the instance that owns its
 * user's partition (this one's writer, or another instance over internal
 * HTTP), and the call answers once every part committed. Parts refused
 * because their partition moved are routed again until `retryMs` runs out.
 * An instance that holds every partition takes the plain path: its writer.
 */
export class ClusterIngest implements IngestPort {
  constructor(private readonly options: ClusterIngestOptions) {}

  async ingest(events: readonly ValidEvent[]): Promise<Counts> {
    if (this.options.ownership.holdsAll()) {
      try {
        return await this.options.writer.ingest(events);
      } catch (error) {
        if (!(error instanceof FencedError)) throw error;
      }
    }
    return this.routed(events);
  }

  async flush(before: number | null): Promise<number> {
    const { writer, ownership } = this.options;
    const others = (await this.options.peers()).filter((p) => p.id !== ownership.id());
    const counts = await Promise.all([
      writer.flush(before),
      ...others.map((peer) =>
        forwardFlush(peer.url, this.options.secret, before, this.options.forwardTimeoutMs).catch((error: unknown) => {
          this.options.logger.warn({ err: error, instance: peer.id }, 'cluster: flush on another instance failed');
          throw unavailable();
        }),
      ),
    ]);
    return counts.reduce((sum, n) => sum + n, 0);
  }

  private async routed(events: readonly ValidEvent[]): Promise<Counts> {
    const { ownership, retryMs } = this.options;
    const deadline = Date.now() + retryMs;
    const total: Counts = { accepted: 0, duplicates: 0 };
    let pending: readonly ValidEvent[] = events;
    for (let attempt = 0; ; attempt++) {
      const parts = this.split(pending);
      const results = await Promise.allSettled(parts.map((part) => this.send(part)));
      const retry: ValidEvent[] = [];
      let failure: unknown = null;
      results.forEach((result, i) => {
        if (result.status === 'fulfilled') {
          total.accepted += result.value.accepted;
          total.duplicates += result.value.duplicates;
        } else if (retryable(result.reason)) {
          retry.push(...(parts[i] as Part).events);
        } else {
          failure ??= result.reason;
        }
      });
      if (failure !== null) throw failure;
      if (retry.length === 0) return total;
      if (Date.now() >= deadline) {
        this.options.logger.warn({ events: retry.length, attempts: attempt + 1 }, 'cluster: no owner took these events in time');
        throw unavailable();
      }
      await new Promise((resolve) => setTimeout(resolve, Math.min(1_000, 25 * 2 ** Math.min(attempt, 6))));
      await ownership.refreshRoutes().catch(() => undefined);
      pending = retry;
    }
  }

  /** Events grouped by where their partition goes (an event's user keeps its order within its part). */
  private split(events: readonly ValidEvent[]): Part[] {
    const byTarget = new Map<string, Part>();
    for (const e of events) {
      const route = this.options.ownership.route(partitionOf(e.userId, this.options.partitions));
      const key = route.kind === 'remote' ? route.instance : route.kind;
      let part = byTarget.get(key);
      if (part === undefined) {
        part = { route, events: [] };
        byTarget.set(key, part);
      }
      part.events.push(e);
    }
    return [...byTarget.values()];
  }

  private async send(part: Part): Promise<Counts> {
    const { route } = part;
    switch (route.kind) {
      case 'self':
        // Checked in the same turn as the enqueue: a partition being handed over takes no new events.
        for (const e of part.events) {
          if (!this.options.ownership.holds(partitionOf(e.userId, this.options.partitions))) throw new RetryElsewhere('partition moved');
        }
        return this.options.writer.ingest(part.events);
      case 'remote':
        return forwardIngest(route.url, this.options.secret, part.events, this.options.forwardTimeoutMs, this.options.observer);
      case 'none':
        throw new RetryElsewhere('no live owner yet');
      default:
        throw new Error(`unknown route ${(route satisfies never) as string}`);
    }
  }
}

/**
 * A part refused without anything saved, which another attempt may place:
 * its owner moved or stops, or the local writer was rebuilding its state
 * (after a takeover, its queue is refused as unavailable). An admission
 * refusal is not: the owner is overloaded, and waiting here would hold the
 * request the bound exists to shed; it goes to the client with retryAfterMs.
 */
function retryable(error: unknown): boolean {
  if (isAdmissionRefusal(error)) return false;
  if (error instanceof RetryElsewhere || error instanceof FencedError) return true;
  const code = codeOf(error);
  return code === ErrorCode.ShuttingDown || code === ErrorCode.Unavailable;
}
