import type { SessionView } from '../store/session-view.ts';
import { Feed, type Reader } from './feed.ts';

/** A session that a late event merged into an earlier one of the same user. */
export interface SessionMerge {
  /** The id that no longer exists: its events now belong to `into`. */
  readonly mergedId: string;
  readonly userId: string;
  /** Name of the session definition. */
  readonly definition: string;
  /** The surviving session (the earlier id), as the merge left it. */
  readonly into: SessionView;
}

/** What each live topic carries. */
export interface TopicPayloads {
  readonly started: SessionView;
  readonly updated: SessionView;
  readonly closed: SessionView;
  readonly merged: SessionMerge;
}

/** The live topics. */
export type SessionTopic = keyof TopicPayloads;

/** Why a subscriber was cut off, and how many messages it will never get. */
export type Overflow = { readonly reason: 'queue-full'; readonly limit: number; readonly dropped: number };

/** Options of one subscription. */
export interface SubscribeOptions<T extends SessionTopic> {
  readonly topic: T;
  /** Only sessions of this definition (by name). */
  readonly definition: string;
  /** Only this user's messages; null for all users. */
  readonly userId: string | null;
  /**
   * Most messages the subscriber may fall behind (published, not yet read);
   * past that it ends and onOverflow is called. Default 100,000.
   */
  readonly maxQueue?: number;
  /** Called once when the subscriber falls too far behind (the caller closes its socket). */
  readonly onOverflow?: (overflow: Overflow) => void;
  /**
   * The connection the subscription delivers to: {@link SessionBus.cut}
   * ends all of one owner's subscriptions together and counts what they
   * leave undelivered.
   */
  readonly owner?: object | null;
}

/** A live subscription: an async iterator that ends on return(), end(), overflow, cut() or close(). */
export type Subscription<T> = AsyncIterableIterator<T> & { end(): void };

const ALL_USERS = '\u0000*';

/** Index key of a topic, definition and user (definition names never hold ':'). */
function keyOf(topic: SessionTopic, definition: string, user: string): string {
  return `${topic}:${definition}:${user}`;
}
const DEFAULT_MAX_QUEUE = 100_000;

/**
 * In-process fan-out of committed session changes. Subscribers are indexed
 * by topic and userId, so a publish touches only the feeds that want it.
 * Each index key has one {@link Feed}: a message is stored once however many
 * subscribers read it, and subscribers that wait for it get it directly, so
 * a commit of 50,000 changes costs 50,000 appends, not 50,000 per subscriber.
 */
export class SessionBus {
  private readonly index = new Map<string, Feed<unknown>>();
  private readonly owners = new WeakMap<object, Set<Reader<unknown>>>();
  private count = 0;

  /** Subscribes to messages published from now on. */
  subscribe<T extends SessionTopic>(options: SubscribeOptions<T>): Subscription<TopicPayloads[T]> {
    const key = keyOf(options.topic, options.definition, options.userId ?? ALL_USERS);
    const feed = this.index.get(key) ?? new Feed<unknown>();
    this.index.set(key, feed);
    const group = options.owner === undefined || options.owner === null ? undefined : this.groupOf(options.owner);
    const forget = (): void => {
      this.count -= 1;
      if (feed.size === 0 && this.index.get(key) === feed) this.index.delete(key);
    };
    const reader = feed.join(options.maxQueue ?? DEFAULT_MAX_QUEUE, {
      overflowed: (dropped, limit) => {
        forget();
        options.onOverflow?.({ reason: 'queue-full', limit, dropped });
      },
      left: (overflowed) => {
        group?.delete(reader);
        if (!overflowed) forget();
      },
    });
    group?.add(reader);
    this.count += 1;
    return reader as unknown as Subscription<TopicPayloads[T]>;
  }

  /** Delivers one committed message to the subscribers of its topic, definition and user, and to all-user ones. */
  publish<T extends SessionTopic>(topic: T, payload: TopicPayloads[T]): void {
    this.index.get(keyOf(topic, payload.definition, payload.userId))?.publish(payload);
    this.index.get(keyOf(topic, payload.definition, ALL_USERS))?.publish(payload);
  }

  /** True when some subscriber would receive this topic for this definition and user. */
  wants(topic: SessionTopic, definition: string, userId: string): boolean {
    return this.index.has(keyOf(topic, definition, userId)) || this.index.has(keyOf(topic, definition, ALL_USERS));
  }

  /** True when some subscriber, of any user, listens to this topic (reading changes from the store is skipped otherwise). */
  listens(topic: SessionTopic): boolean {
    const prefix = `${topic}:`;
    for (const key of this.index.keys()) if (key.startsWith(prefix)) return true;
    return false;
  }

  /**
   * Ends every subscription of `owner` (a connection cut off as a slow
   * consumer) and returns how many messages they leave undelivered: what
   * each had not read yet, and what an overflowed one lost.
   */
  cut(owner: object): number {
    const readers = this.owners.get(owner);
    if (readers === undefined) return 0;
    this.owners.delete(owner);
    let dropped = 0;
    for (const reader of [...readers]) dropped += reader.end();
    return dropped;
  }

  private groupOf(owner: object): Set<Reader<unknown>> {
    let group = this.owners.get(owner);
    if (group === undefined) {
      group = new Set();
      this.owners.set(owner, group);
    }
    return group;
  }

  /** Active subscriptions. */
  size(): number {
    return this.count;
  }

  /** Ends every subscription (shutdown). */
  close(): void {
    for (const feed of [...this.index.values()]) feed.close();
  }
}
