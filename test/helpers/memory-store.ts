import { applyBatch, type BatchOutcome } from '../../src/sessionizer/run-batch.ts';
import type { Sessionizer } from '../../src/sessionizer/sessionizer.ts';
import type { Change, LoadedRegion, Region, SessionEvent, SessionSnapshot, SessionStorePort } from '../../src/sessionizer/types.ts';

/**
 * One ingest batch against a store port, as the writer runs it inside its
 * transaction: store the new events, then applyBatch (sessionize, save,
 * correct the deferred users from the store).
 */
export async function runBatch(sessionizer: Sessionizer, events: readonly SessionEvent[], store: SessionStorePort, nowMs: number): Promise<BatchOutcome> {
  const accepted = await store.insertEvents(events);
  return applyBatch(sessionizer, accepted, events.length - accepted.length, store, nowMs);
}

/** Drains the sessionizer and saves the changes (after advanceTime or flush). */
export async function persistChanges(sessionizer: Sessionizer, store: SessionStorePort): Promise<Change[]> {
  const changes = sessionizer.drainChanges();
  await store.saveChanges(changes);
  return changes;
}

export interface MemoryStoreOptions {
  /**
   * Throw when a saved change breaks the version contract: new sessions at 1,
   * every later save of a session exactly one above the stored version
   * (entries of one save share a version). For tests.
   */
  readonly checkVersions?: boolean;
}

/** The in-memory twin of the Postgres session and event store (tests). */
export class MemorySessionStore implements SessionStorePort {
  private readonly eventIds = new Set<string>();
  private readonly eventsByUser = new Map<string, SessionEvent[]>();
  private readonly all: SessionEvent[] = [];
  /** Stored sessions by id. */
  readonly sessions = new Map<string, SessionSnapshot>();

  constructor(private readonly options: MemoryStoreOptions = {}) {}

  async insertEvents(events: readonly SessionEvent[]): Promise<SessionEvent[]> {
    const fresh: SessionEvent[] = [];
    for (const e of events) {
      if (this.eventIds.has(e.eventId)) continue;
      this.eventIds.add(e.eventId);
      fresh.push(e);
      this.all.push(e);
      const list = this.eventsByUser.get(e.userId);
      if (list === undefined) this.eventsByUser.set(e.userId, [e]);
      else list.push(e);
    }
    return fresh;
  }

  async loadRegions(regions: readonly Region[]): Promise<Map<string, LoadedRegion>> {
    const out = new Map<string, LoadedRegion>();
    for (const { userId, fromTs, toTs } of regions) {
      const events = (this.eventsByUser.get(userId) ?? []).filter((e) => e.ts >= fromTs && e.ts <= toTs);
      const sessions = [...this.sessions.values()].filter((s) => s.userId === userId && s.endedAt >= fromTs && s.startedAt <= toTs);
      out.set(userId, { events, sessions });
    }
    return out;
  }

  async saveChanges(changes: readonly Change[]): Promise<void> {
    const written = new Set<string>();
    for (const c of changes) {
      const id = c.session.id;
      if (c.kind === 'removed') {
        this.sessions.delete(id);
        continue;
      }
      if (this.options.checkVersions === true) this.checkVersion(c, written);
      written.add(id);
      this.sessions.set(id, c.session);
    }
  }

  private checkVersion(c: Change, written: ReadonlySet<string>): void {
    const before = this.sessions.get(c.session.id);
    const v = c.session.version;
    const ok =
      before === undefined
        ? c.kind === 'started' && v === 1
        : written.has(c.session.id)
          ? v === before.version
          : c.kind !== 'started' && v === before.version + 1;
    if (!ok) {
      throw new Error(
        `version contract broken: ${c.kind} ${c.session.id} v${v} over ${before === undefined ? 'nothing' : `v${before.version}`}`,
      );
    }
  }

  /** Every stored event in insertion order. */
  events(): SessionEvent[] {
    return [...this.all];
  }

  /** Stored sessions, optionally of one user, ordered by userId then startedAt. */
  list(userId?: string): SessionSnapshot[] {
    return [...this.sessions.values()]
      .filter((s) => userId === undefined || s.userId === userId)
      .sort((a, b) => (a.userId !== b.userId ? (a.userId < b.userId ? -1 : 1) : a.startedAt - b.startedAt));
  }
}
