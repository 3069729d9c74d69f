import { FencedError } from '../cluster/cluster-store.ts';
import { isDatabaseUnavailable } from '../server/database-errors.ts';

/**
 * Why a group's transaction failed:
 * - unavailable: the database is out of reach; recover (retry the reload until it answers);
 * - fenced: a partition moved to another instance; callers retry at its new owner;
 * - aborted: the group before it failed (nothing wrong with this one);
 * - fault: anything else (a bug, a constraint that should not fail): only this group's jobs are at stake.
 */
export type FailureCause = 'unavailable' | 'fenced' | 'aborted' | 'fault';

/** Rolls a group back because the group before it failed (its memory changes were never made). */
export class GroupAborted extends Error {
  constructor() {
    super('the group committed before this one failed');
  }
}

/** TEST ONLY: the failure TEST_FAULT_EVENT_ID injects into the sessionizer path. */
export class InjectedFault extends Error {
  override readonly name = 'InjectedFault';
}

/** Sorts a commit error into its {@link FailureCause}. */
export function classifyFailure(error: unknown): FailureCause {
  if (error instanceof FencedError) return 'fenced';
  if (error instanceof GroupAborted) return 'aborted';
  return isDatabaseUnavailable(error) ? 'unavailable' : 'fault';
}

/** What becomes of the jobs of a group that failed by a fault. */
export type FaultPlan<J> =
  | { readonly kind: 'retry'; readonly parts: ReadonlyArray<readonly J[]>; readonly failures: number }
  | { readonly kind: 'reject'; readonly job: J };

/**
 * After a fault: a group is retried whole once (a deadlock or a serialization
 * failure passes); a group that failed twice is split in halves, committed
 * apart, and so on, until the one job that fails alone is refused. A group of
 * n jobs costs at most 2 + ceil(log2 n) failed attempts, never a loop.
 * `failures` counts the failures of the group's line, this one included.
 */
export function planAfterFault<J>(jobs: readonly J[], failures: number): FaultPlan<J> | null {
  if (jobs.length === 0) return null;
  if (failures < 2) return { kind: 'retry', parts: [jobs], failures };
  if (jobs.length === 1) return { kind: 'reject', job: jobs[0] as J };
  const half = Math.ceil(jobs.length / 2);
  return { kind: 'retry', parts: [jobs.slice(0, half), jobs.slice(half)], failures };
}
