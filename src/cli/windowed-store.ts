import { MinHeap } from '../sessionizer/index.ts';
import type { Change, SessionEvent, SessionSnapshot, SessionStorePort } from '../sessionizer/index.ts';

interface UserRecord {
  /** Events of the user's retained sessions, in arrival order. */
  events: SessionEvent[];
  /** The user's retained sessions (open, or closed but not yet final); usually one or two. */
  sessions: SessionSnapshot[];
}

/**
 * The session store of `sessions sessionize`: MemorySessionStore's job with a
 * retention window, so memory follows the open sessions instead of the file.
 *
 * The caller admits only events at or after the watermark (largest admitted
 * timestamp - lateness; older ones are refused as LATE_EVENT) and de-duplicates
 * ids itself. Then a CLOSED session whose closesAt (endedAt + gap) is behind
 * the watermark is final: every event still to come is more than gap after its
 * end, so no event joins or bridges it, and a correction of its neighbours
 * re-derives it unchanged. takeFinal() hands such sessions out and forgets
 * them with their events; a correction region then starts after them, which
 * gives the same sessions (their successors start at their own first event
 * either way).
 */
export class WindowedSessionStore implements SessionStorePort {
  private readonly users = new Map<string, UserRecord>();
  /** Closed sessions by closesAt; lazy: an entry whose session changed or left is skipped. */
  private readonly closed = new MinHeap<SessionSnapshot>();
  private retainedEvents = 0;
  private retainedSessions = 0;

  /** Stores the events (ids must be new: the caller de-duplicates) and returns them. */
  async insertEvents(events: readonly SessionEvent[]): Promise<SessionEvent[]> {
    let last: UserRecord | undefined;
    let lastUser = '';
    for (let i = 0; i < events.length; i++) {
      const e = events[i] as SessionEvent;
      if (e.userId !== lastUser || last === undefined) {
        lastUser = e.userId;
        last = this.record(e.userId);
      }
      last.events.push(e);
    }
    this.retainedEvents += events.length;
    return events as SessionEvent[];
  }

  async loadRegion(
    userId: string,
    fromTs: number,
    toTs: number,
  ): Promise<{ events: SessionEvent[]; sessions: SessionSnapshot[] }> {
    const rec = this.users.get(userId);
    if (rec === undefined) return { events: [], sessions: [] };
    return {
      events: rec.events.filter((e) => e.ts >= fromTs && e.ts <= toTs),
      sessions: rec.sessions.filter((s) => s.endedAt >= fromTs && s.startedAt <= toTs),
    };
  }

  async saveChanges(changes: readonly Change[]): Promise<void> {
    for (let i = 0; i < changes.length; i++) {
      const c = changes[i] as Change;
      const s = c.session;
      const rec = this.record(s.userId);
      const at = indexOfId(rec.sessions, s.id);
      if (c.kind === 'removed') {
        if (at >= 0) {
          rec.sessions.splice(at, 1);
          this.retainedSessions--;
        }
        continue;
      }
      if (at >= 0) rec.sessions[at] = s;
      else {
        rec.sessions.push(s);
        this.retainedSessions++;
      }
      if (s.status === 'CLOSED') this.closed.push(s.closesAt, s);
    }
  }

  /**
   * Removes and returns the CLOSED sessions with closesAt < watermark (all
   * closed ones for Infinity), ordered by closesAt, and forgets their events.
   */
  takeFinal(watermark: number): SessionSnapshot[] {
    const out: SessionSnapshot[] = [];
    const heap = this.closed;
    while (heap.peekKey() < watermark) {
      const s = heap.pop() as SessionSnapshot;
      const rec = this.users.get(s.userId);
      if (rec === undefined) continue;
      const at = rec.sessions.indexOf(s);
      if (at < 0) continue; // replaced by a later snapshot, or removed
      rec.sessions.splice(at, 1);
      this.retainedSessions--;
      this.retainedEvents -= dropThrough(rec.events, s.endedAt);
      if (rec.sessions.length === 0 && rec.events.length === 0) this.users.delete(s.userId);
      out.push(s);
    }
    return out;
  }

  /** What is held now (for tests and the memory trade-off in docs/cli.md). */
  size(): { users: number; events: number; sessions: number } {
    return { users: this.users.size, events: this.retainedEvents, sessions: this.retainedSessions };
  }

  private record(userId: string): UserRecord {
    let rec = this.users.get(userId);
    if (rec === undefined) {
      rec = { events: [], sessions: [] };
      this.users.set(userId, rec);
    }
    return rec;
  }
}

function indexOfId(sessions: readonly SessionSnapshot[], id: string): number {
  for (let i = 0; i < sessions.length; i++) if ((sessions[i] as SessionSnapshot).id === id) return i;
  return -1;
}

/**
 * Drops the events with ts <= endedAt (in place); returns how many. They all
 * belong to the final session or to earlier, already final ones: a user's
 * next session starts strictly after endedAt.
 */
function dropThrough(events: SessionEvent[], endedAt: number): number {
  let w = 0;
  for (let r = 0; r < events.length; r++) {
    const e = events[r] as SessionEvent;
    if (e.ts > endedAt) events[w++] = e;
  }
  const dropped = events.length - w;
  events.length = w;
  return dropped;
}
