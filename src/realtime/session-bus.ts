import type { SessionView } from '../store/session-view.ts';

/** The three live topics. */
export type SessionTopic = 'started' | 'updated' | 'closed';

/** Why a subscriber was cut off. */
export type Overflow = { readonly reason: 'queue-full'; readonly limit: number };

/** Options of one subscription. */
export interface SubscribeOptions {
  readonly topic: SessionTopic;
  /** Only this user's sessions; null for all users. */
  readonly userId: string | null;
  /** Most undelivered messages kept; past that the subscription ends with onOverflow. Default 1000. */
  readonly maxQueue?: number;
  /** Called once when the subscriber falls too far behind (the caller closes its socket). */
  readonly onOverflow?: (overflow: Overflow) => void;
}

const ALL_USERS = '\u0000*';
const DEFAULT_MAX_QUEUE = 1_000;

/** A subscriber: an async iterator over sessions with a bounded queue. */
class Subscriber implements AsyncIterableIterator<SessionView> {
  private readonly queue: SessionView[] = [];
  private waiting: ((result: IteratorResult<SessionView>) => void) | null = null;
  private done = false;

  constructor(
    private readonly maxQueue: number,
    private readonly onOverflow: ((overflow: Overflow) => void) | undefined,
    private readonly detach: () => void,
  ) {}

  push(session: SessionView): void {
    if (this.done) return;
    if (this.waiting !== null) {
      const resolve = this.waiting;
      this.waiting = null;
      resolve({ value: session, done: false });
      return;
    }
    if (this.queue.length >= this.maxQueue) {
      this.end();
      this.onOverflow?.({ reason: 'queue-full', limit: this.maxQueue });
      return;
    }
    this.queue.push(session);
  }

  next(): Promise<IteratorResult<SessionView>> {
    const head = this.queue.shift();
    if (head !== undefined) return Promise.resolve({ value: head, done: false });
    if (this.done) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => {
      this.waiting = resolve;
    });
  }

  return(): Promise<IteratorResult<SessionView>> {
    this.end();
    return Promise.resolve({ value: undefined, done: true });
  }

  /** Stops delivery: pending next() calls finish, queued messages are dropped. */
  end(): void {
    if (this.done) return;
    this.done = true;
    this.queue.length = 0;
    this.detach();
    const resolve = this.waiting;
    this.waiting = null;
    resolve?.({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}

/**
 * In-process fan-out of committed session changes. Subscribers are indexed by
 * topic and userId, so a publish touches only the subscribers that want it.
 */
export class SessionBus {
  private readonly index = new Map<string, Set<Subscriber>>();
  private count = 0;

  /** Subscribes; the iterator ends on return(), overflow or close(). */
  subscribe(options: SubscribeOptions): AsyncIterableIterator<SessionView> & { end(): void } {
    const key = `${options.topic}:${options.userId ?? ALL_USERS}`;
    let set = this.index.get(key);
    if (set === undefined) {
      set = new Set();
      this.index.set(key, set);
    }
    const bucket = set;
    const subscriber: Subscriber = new Subscriber(options.maxQueue ?? DEFAULT_MAX_QUEUE, options.onOverflow, () => {
      if (bucket.delete(subscriber)) this.count -= 1;
      if (bucket.size === 0) this.index.delete(key);
    });
    bucket.add(subscriber);
    this.count += 1;
    return subscriber;
  }

  /** Delivers one committed session to the subscribers of its topic and user, and to all-user ones. */
  publish(topic: SessionTopic, session: SessionView): void {
    const forUser = this.index.get(`${topic}:${session.userId}`);
    if (forUser !== undefined) for (const s of forUser) s.push(session);
    const forAll = this.index.get(`${topic}:${ALL_USERS}`);
    if (forAll !== undefined) for (const s of forAll) s.push(session);
  }

  /** True when some subscriber would receive this topic for this user. */
  wants(topic: SessionTopic, userId: string): boolean {
    return this.index.has(`${topic}:${userId}`) || this.index.has(`${topic}:${ALL_USERS}`);
  }

  /** Active subscriptions. */
  size(): number {
    return this.count;
  }

  /** Ends every subscription (shutdown). */
  close(): void {
    for (const set of [...this.index.values()]) for (const s of [...set]) s.end();
  }
}
