import type { SessionDefinition } from '../definitions/definitions.ts';
import { routeEvents } from '../definitions/route.ts';
import { applyBatch } from '../sessionizer/run-batch.ts';
import type { Sessionizer } from '../sessionizer/sessionizer.ts';
import type { PgSessionStore, StoreLane } from '../store/pg-session-store.ts';
import type { ValidEvent } from './validate.ts';

/**
 * One session definition in the writer: its sessionizer (its own open
 * sessions, timers and corrections) and the build of sessions it writes.
 */
export class Lane implements StoreLane {
  constructor(
    readonly definition: SessionDefinition,
    /** sessions.definition of the build this lane writes. */
    readonly key: string,
    readonly sessionizer: Sessionizer,
    /** False while the definition is being rebuilt: its changes are not announced yet. */
    public announce: boolean,
  ) {}

  get name(): string {
    return this.definition.name;
  }

  get filter(): SessionDefinition['filter'] {
    return this.definition.filter;
  }

  get gapMs(): number {
    return this.definition.rules.gapMs;
  }
}

/**
 * The writer's definitions, each with its own sessionizer. Duplicates, the
 * watermark and lateness are global: every lane's watermark follows the
 * largest accepted event of any definition (advanceEventTime).
 */
export class Lanes {
  constructor(readonly list: readonly Lane[]) {}

  /** Starts a batch in every lane (versions move once per batch). */
  beginBatch(): void {
    for (const lane of this.list) lane.sessionizer.beginBatch();
  }

  /**
   * Applies the accepted events of a group: each definition gets the events
   * its filter matches (all of them when it has none), then every watermark
   * moves to the group's largest event. Returns the users corrected from the store.
   */
  async apply(accepted: readonly ValidEvent[], duplicates: number, store: PgSessionStore, nowMs: number): Promise<number> {
    const routed = routeEvents(
      this.list.map((lane) => lane.filter),
      accepted,
    );
    let maxTs = Number.NEGATIVE_INFINITY;
    for (const e of accepted) if (e.ts > maxTs) maxTs = e.ts;
    let corrections = 0;
    for (let i = 0; i < this.list.length; i++) {
      const lane = this.list[i] as Lane;
      const events = routed[i] as ValidEvent[];
      if (events.length > 0) corrections += (await applyBatch(lane.sessionizer, events, duplicates, store.forLane(lane), nowMs)).corrections;
      else lane.sessionizer.beginBatch();
      if (maxTs !== Number.NEGATIVE_INFINITY) lane.sessionizer.advanceEventTime(maxTs, nowMs);
    }
    return corrections;
  }

  /** Closes (FLUSH) the open sessions ended before `before` (all when undefined) in every definition; returns how many. */
  flush(before: number | undefined, nowMs: number): number {
    let closed = 0;
    for (const { sessionizer } of this.list) {
      const open = sessionizer.openCount();
      sessionizer.flush(before, nowMs);
      closed += open - sessionizer.openCount();
    }
    return closed;
  }

  /** Quiet-user timers of every definition up to nowMs. */
  advanceTime(nowMs: number): void {
    for (const lane of this.list) lane.sessionizer.advanceTime(nowMs);
  }

  /** Saves what every lane changed since its last drain (timers, flushes, watermark closures). */
  async saveDrained(store: PgSessionStore): Promise<void> {
    for (const lane of this.list) await store.forLane(lane).saveChanges(lane.sessionizer.drainChanges());
  }

  openCount(): number {
    let n = 0;
    for (const lane of this.list) n += lane.sessionizer.openCount();
    return n;
  }

  /** The earliest quiet deadline of any definition (wall-clock ms), or null. */
  nextDeadline(): number | null {
    let next: number | null = null;
    for (const lane of this.list) {
      const d = lane.sessionizer.nextDeadline();
      if (d !== null && (next === null || d < next)) next = d;
    }
    return next;
  }

  byName(name: string): Lane | undefined {
    return this.list.find((lane) => lane.name === name);
  }
}
