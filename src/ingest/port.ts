import type { ValidEvent } from './validate.ts';

/**
 * Where valid events go: the single writer on one instance, the cluster's
 * router (src/cluster/router.ts) on several. The GraphQL API and the
 * Segment endpoints call it; it knows nothing of either.
 */
export interface IngestPort {
  /** Resolves once the events and the session changes they cause are committed. */
  ingest(events: readonly ValidEvent[]): Promise<{ accepted: number; duplicates: number }>;
  /** Closes OPEN sessions ended before `before` (all when null) with FLUSH; resolves with how many. */
  flush(before: number | null): Promise<number>;
}
