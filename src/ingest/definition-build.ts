import { partitionOf } from '../cluster/partition.ts';
import { correctUsers } from '../sessionizer/run-batch.ts';
import { advanceBuild, completeBuild, nextBuildUsers, smallestCursor, undonePartitions } from '../store/definition-store.ts';
import type { Db } from '../store/event-store.ts';
import type { PgSessionStore } from '../store/pg-session-store.ts';
import type { Lanes } from './lanes.ts';

/** Most stored events one build step reads (a user is never split: one with more is read alone). */
export const BUILD_STEP_EVENTS = 20_000;

/** What one build step did. */
export interface BuildOutcome {
  /** False when this instance has nothing left to build (its partitions of every build are done). */
  readonly more: boolean;
  /** Definitions whose build became the one shown in this step. */
  readonly switched: readonly string[];
  /** The definition built in this step (null: none). */
  readonly definition: string | null;
  readonly users: number;
  /** Stored events of the users rebuilt (matched by the definition or not). */
  readonly events: number;
}

const NOTHING: BuildOutcome = { more: false, switched: [], definition: null, users: 0, events: 0 };

/**
 * One step of building a definition from the stored events, inside a writer
 * transaction (docs/definitions.md, "Rebuilds"). The next users of the
 * partitions this instance holds are recomputed whole, through the
 * correction path every late event takes (correctUsers: load, expand,
 * correct, install, save), so live events the definition took meanwhile are
 * folded in exactly; their partitions' cursors move in the same transaction.
 * When every partition of a build is done, its sessions replace the previous
 * build's at once (completeBuild).
 */
export async function buildStep(
  tx: Db,
  lanes: Lanes,
  store: PgSessionStore,
  held: readonly number[] | null,
  partitions: number,
  nowMs: number,
  maxEvents: number = BUILD_STEP_EVENTS,
): Promise<BuildOutcome> {
  for (const lane of lanes.list) {
    if (lane.announce) continue;
    const undone = await undonePartitions(tx, lane.key, held);
    if (undone.length === 0) {
      if (await completeBuild(tx, lane.name, lane.key)) return { ...NOTHING, more: true, switched: [lane.name], definition: lane.name };
      continue;
    }
    const mine = undone.map((p) => p.partition);
    const chunk = await nextBuildUsers(tx, await smallestCursor(tx, lane.key, mine), maxEvents);
    const owned = new Set(mine);
    const users = chunk.users.filter((u) => owned.has(partitionOf(u.userId, partitions)));
    if (users.length > 0) {
      await correctUsers(
        lane.sessionizer,
        store.forLane(lane),
        users.map((u) => ({ userId: u.userId, fromTs: u.fromTs, toTs: u.toTs })),
        nowMs,
      );
    }
    const events = new Map<number, number>();
    for (const u of users) {
      const p = partitionOf(u.userId, partitions);
      events.set(p, (events.get(p) ?? 0) + u.events);
    }
    await advanceBuild(tx, lane.key, mine, chunk.users.at(-1)?.userId ?? null, events, chunk.last);
    const switched = chunk.last && (await completeBuild(tx, lane.name, lane.key)) ? [lane.name] : [];
    return { more: true, switched, definition: lane.name, users: users.length, events: users.reduce((n, u) => n + u.events, 0) };
  }
  return NOTHING;
}
