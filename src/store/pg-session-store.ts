import type { Change, LoadedRegion, Region, SessionEvent, SessionSnapshot, SessionStorePort } from '../sessionizer/types.ts';
import { insertEvents, loadRangeEvents, type Db, type EventRow } from './event-store.ts';
import { deleteSessions, loadRangeSessions } from './session-store.ts';
import { writeSessions } from './session-writes.ts';

/** A change as committed: the snapshot plus the stored close cursor. */
export interface CommittedChange {
  readonly change: Change;
  readonly closeSeq: string | null;
}

/**
 * The core's storage port on one Postgres transaction. It remembers every
 * change it saved, with close cursors, so the writer can announce them once
 * the transaction commits.
 */
export class PgSessionStore implements SessionStorePort {
  readonly saved: CommittedChange[] = [];
  /** The events that were new (first occurrence of an unseen eventId), by identity. */
  readonly inserted = new Set<SessionEvent>();

  constructor(
    private readonly db: Db,
    private readonly gapMs: number,
    /** The cluster's partition count (each stored session carries its partition). */
    private readonly partitions: number,
  ) {}

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

  async loadRegions(regions: readonly Region[]): Promise<Map<string, LoadedRegion>> {
    const [events, sessions] = await Promise.all([loadRangeEvents(this.db, regions), loadRangeSessions(this.db, regions, this.gapMs)]);
    const out = new Map<string, LoadedRegion>();
    for (const { userId } of regions) out.set(userId, { events: events.get(userId) ?? [], sessions: sessions.get(userId) ?? [] });
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
    await deleteSessions(this.db, [...removed]);
    const seqs = await writeSessions(
      this.db,
      [...latest.values()],
      (id) => !fresh.has(id),
      [...closing].filter((id) => latest.get(id)?.status === 'CLOSED'),
      this.partitions,
    );
    for (const change of changes) this.saved.push({ change, closeSeq: seqs.get(change.session.id) ?? null });
  }
}
