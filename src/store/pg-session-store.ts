import { DEFAULT_DEFINITION } from '../definitions/definitions.ts';
import { filterPaths, type EventFilter } from '../definitions/filter.ts';
import { entersDefinition } from '../definitions/route.ts';
import type { Change, LoadedRegion, Region, SessionEvent, SessionSnapshot, SessionStorePort } from '../sessionizer/types.ts';
import { insertEvents, loadRangeEvents, type Db, type EventRow } from './event-store.ts';
import { deleteSessions, loadRangeSessions } from './session-store.ts';
import { writeSessions } from './session-writes.ts';

/** A change as committed: the snapshot plus the stored close cursor. */
export interface CommittedChange {
  readonly change: Change;
  readonly closeSeq: string | null;
  /** Name of the session definition whose session changed. */
  readonly definition: string;
  /** False for the changes of a definition being rebuilt: they are not announced until it is ready. */
  readonly announce: boolean;
}

/** Which definition build a store view reads and writes. */
export interface StoreLane {
  /** Definition name (what the API shows). */
  readonly name: string;
  /** sessions.definition of the build the lane writes. */
  readonly key: string;
  readonly filter: EventFilter | null;
  readonly gapMs: number;
  /** Whether its committed changes are announced (false while it is being rebuilt). */
  readonly announce: boolean;
}

/** The lane of the single-definition service: `default`, every event. */
export function defaultLane(gapMs: number): StoreLane {
  return { name: DEFAULT_DEFINITION, key: DEFAULT_DEFINITION, filter: null, gapMs, announce: true };
}

/**
 * The core's storage port on one Postgres transaction, for one definition
 * build (see forLane). All lanes of a transaction share what they saved, with
 * close cursors, so the writer can announce it once the transaction commits.
 */
export class PgSessionStore implements SessionStorePort {
  readonly saved: CommittedChange[];
  /** The events that were new (first occurrence of an unseen eventId), by identity. */
  readonly inserted: Set<SessionEvent>;

  constructor(
    private readonly db: Db,
    private readonly lane: StoreLane,
    /** The cluster's partition count (each stored session carries its partition). */
    private readonly partitions: number,
    shared: { saved: CommittedChange[]; inserted: Set<SessionEvent> } = { saved: [], inserted: new Set() },
  ) {
    this.saved = shared.saved;
    this.inserted = shared.inserted;
  }

  /** The same transaction for another definition build (saved changes are shared). */
  forLane(lane: StoreLane): PgSessionStore {
    if (lane === this.lane) return this;
    return new PgSessionStore(this.db, lane, this.partitions, { saved: this.saved, inserted: this.inserted });
  }

  async insertEvents(events: readonly SessionEvent[]): Promise<SessionEvent[]> {
    const firsts: SessionEvent[] = [];
    const seen = new Set<string>();
    for (const e of events) {
      if (seen.has(e.eventId)) continue;
      seen.add(e.eventId);
      firsts.push(e);
    }
    const created = await insertEvents(this.db, firsts as readonly EventRow[]);
    const fresh = firsts.filter((e) => created.has(e.eventId));
    for (const e of fresh) this.inserted.add(e);
    return fresh;
  }

  /** The regions' events that enter this lane's definition, and its sessions there. */
  async loadRegions(regions: readonly Region[]): Promise<Map<string, LoadedRegion>> {
    const { filter, gapMs, key } = this.lane;
    const [events, sessions] = await Promise.all([
      loadRangeEvents(this.db, regions, filter === null ? [] : filterPaths(filter)),
      loadRangeSessions(this.db, regions, gapMs, key),
    ]);
    const out = new Map<string, LoadedRegion>();
    for (const { userId } of regions) {
      const all = events.get(userId) ?? [];
      out.set(userId, { events: filter === null ? all : all.filter((e) => entersDefinition(filter, e)), sessions: sessions.get(userId) ?? [] });
    }
    return out;
  }

  async saveChanges(changes: readonly Change[]): Promise<void> {
    if (changes.length === 0) return;
    const latest = new Map<string, SessionSnapshot>();
    const removed = new Set<string>();
    // 'started' marks a session the store has not seen; every other kind is a stored one.
    const fresh = new Set<string>();
    // CLOSED sessions in the order their changes are announced (see writeSessions).
    const closing = new Set<string>();
    for (const change of changes) {
      if (change.kind === 'started') fresh.add(change.session.id);
      if (change.session.status === 'CLOSED' && change.kind !== 'removed') closing.add(change.session.id);
      if (change.kind === 'removed') {
        latest.delete(change.session.id);
        removed.add(change.session.id);
      } else {
        latest.set(change.session.id, change.session);
        removed.delete(change.session.id);
      }
    }
    const deleted = await deleteSessions(this.db, [...removed]);
    const seqs = await writeSessions(this.db, [...latest.values()], (id) => !fresh.has(id), {
      closing: [...closing].filter((id) => latest.get(id)?.status === 'CLOSED'),
      partitions: this.partitions,
      definitionKey: this.lane.key,
      removed: deleted,
    });
    const { name, announce } = this.lane;
    for (const change of changes) this.saved.push({ change, closeSeq: seqs.get(change.session.id) ?? null, definition: name, announce });
  }
}
