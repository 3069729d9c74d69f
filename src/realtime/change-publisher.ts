import type { SessionView } from '../store/session-view.ts';
import type { SessionBus } from './session-bus.ts';

/** A committed change to announce. */
export type SessionAnnouncement =
  | {
      readonly kind: 'started' | 'updated' | 'closed';
      readonly sessionId: string;
      readonly userId: string;
      /** Name of the session's definition (subscriptions are per definition). */
      readonly definition: string;
      /** Builds the payload; called only when someone listens. */
      readonly view: () => SessionView;
    }
  | {
      /** The session no longer exists: a late event merged it into `mergedInto` (null: its events went nowhere known). */
      readonly kind: 'removed';
      readonly sessionId: string;
      readonly userId: string;
      readonly definition: string;
      readonly mergedInto: string | null;
    };

type Viewable = Extract<SessionAnnouncement, { kind: 'started' | 'updated' | 'closed' }>;

/** The last announcement of each session in a commit: its latest state. */
function latestById(changes: readonly SessionAnnouncement[]): Map<string, Viewable> {
  const latest = new Map<string, Viewable>();
  for (const change of changes) if (change.kind !== 'removed') latest.set(change.sessionId, change);
  return latest;
}

/**
 * Turns committed changes into bus messages. Starts, closures and merges go
 * out at once; updates are coalesced to at most one per session per
 * `intervalMs`, always carrying the latest state (a closure supersedes a
 * pending update). A session merged away is announced on `merged` with the
 * survivor's state after the commit, so a dashboard can drop the old id and
 * update the survivor from one message. When nobody listens to a session's
 * updates, nothing is tracked at all.
 */
export class ChangePublisher {
  // Send times live in two generations of one interval each: an id absent
  // from both was not sent within the last interval. Rotation is O(1).
  private current = new Map<string, number>();
  private previous = new Map<string, number>();
  private generationStart: number;
  private readonly pending = new Map<string, { session: SessionView; dueAt: number }>();
  private timer: NodeJS.Timeout | null = null;
  private timerAt = Number.POSITIVE_INFINITY;

  constructor(
    private readonly bus: SessionBus,
    private readonly intervalMs: number,
    private readonly now: () => number = Date.now,
  ) {
    this.generationStart = now();
  }

  /** Announces changes in commit order. */
  announce(changes: readonly SessionAnnouncement[]): void {
    let latest: Map<string, Viewable> | null = null;
    for (const change of changes) {
      switch (change.kind) {
        case 'started':
          if (this.bus.wants('started', change.definition, change.userId)) this.bus.publish('started', change.view());
          break;
        case 'updated':
          if (this.bus.wants('updated', change.definition, change.userId)) this.update(change.view());
          break;
        case 'closed':
          this.pending.delete(change.sessionId);
          if (this.bus.wants('closed', change.definition, change.userId)) this.bus.publish('closed', change.view());
          break;
        case 'removed': {
          this.pending.delete(change.sessionId);
          if (change.mergedInto === null || !this.bus.wants('merged', change.definition, change.userId)) break;
          // Merges are rare: the index of the commit is built only for the first one.
          latest ??= latestById(changes);
          const into = latest.get(change.mergedInto);
          if (into !== undefined) {
            this.bus.publish('merged', { mergedId: change.sessionId, userId: change.userId, definition: change.definition, into: into.view() });
          }
          break;
        }
        default:
          throw new Error(`unknown change ${(change satisfies never) as string}`);
      }
    }
  }

  /** Sends pending updates now and stops the timer (shutdown). */
  flushPending(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    for (const [id, entry] of this.pending) {
      this.pending.delete(id);
      this.bus.publish('updated', entry.session);
    }
  }

  private update(session: SessionView): void {
    const pending = this.pending.get(session.id);
    if (pending !== undefined) {
      pending.session = session;
      return;
    }
    const now = this.now();
    this.rotate(now);
    const last = this.current.get(session.id) ?? this.previous.get(session.id);
    if (last === undefined || now - last >= this.intervalMs) {
      this.bus.publish('updated', session);
      this.current.set(session.id, now);
      return;
    }
    const dueAt = last + this.intervalMs;
    this.pending.set(session.id, { session, dueAt });
    this.arm(dueAt);
  }

  private rotate(now: number): void {
    if (now - this.generationStart < this.intervalMs) return;
    this.previous = now - this.generationStart < 2 * this.intervalMs ? this.current : new Map();
    this.current = new Map();
    this.generationStart = now;
  }

  /** One timer for the earliest pending update. */
  private arm(dueAt: number): void {
    if (this.timer !== null && this.timerAt <= dueAt) return;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timerAt = dueAt;
    this.timer = setTimeout(() => this.fire(), Math.max(0, dueAt - this.now()));
    this.timer.unref();
  }

  private fire(): void {
    this.timer = null;
    this.timerAt = Number.POSITIVE_INFINITY;
    const now = this.now();
    this.rotate(now);
    let next = Number.POSITIVE_INFINITY;
    for (const [id, entry] of this.pending) {
      if (entry.dueAt <= now) {
        this.pending.delete(id);
        this.bus.publish('updated', entry.session);
        this.current.set(id, now);
      } else if (entry.dueAt < next) {
        next = entry.dueAt;
      }
    }
    if (next !== Number.POSITIVE_INFINITY) this.arm(next);
  }
}
