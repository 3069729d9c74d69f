/**
 * One session of `sessions sessionize`, accumulated from events given in key
 * order (ts, eventId), with the service's derived fields (DESIGN.md, "Session
 * fields").
 *
 * Why not the core's SessionState (src/sessionizer/metrics.ts)? It carries
 * what incremental updates need (events arriving out of order, merges,
 * versions, change logs): event ids at every boundary and per channel, heap
 * keys, epochs. In key order the first event is the first one added and a
 * channel's first event is the order it was first seen in, so none of that is
 * needed, and leaving it out is much of what makes sessionize fast enough
 * (docs/cli.md, "Speed"). test/unit/cli/ordered-sessionizer.test.ts checks the
 * result against the core's referenceSessions.
 */
import type { CloseReason, SessionRules } from '../sessionizer/types.ts';

/** Beyond this many distinct names (or channels) a Map finds them; below, a scan is faster. */
const INDEX_THRESHOLD = 8;

/**
 * Distinct keys with a count each, in the order first seen. Most sessions
 * have one name and one channel: the first key lives in the object itself,
 * arrays only come with a second (a session costs few allocations).
 */
export class Counts {
  private readonly firstKey: string;
  private firstCount: number;
  private moreKeys: string[] | null = null;
  private moreCounts: number[] | null = null;
  private index: Map<string, number> | null = null;
  /** Total length of the keys (room for writing them, without walking them). */
  keyChars: number;

  /** `first`, seen `count` times. */
  constructor(first: string, count = 1) {
    this.firstKey = first;
    this.firstCount = count;
    this.keyChars = first.length;
  }

  /** Number of distinct keys. */
  get size(): number {
    return this.moreKeys === null ? 1 : 1 + this.moreKeys.length;
  }

  keyAt(i: number): string {
    return i === 0 ? this.firstKey : ((this.moreKeys as string[])[i - 1] as string);
  }

  countAt(i: number): number {
    return i === 0 ? this.firstCount : ((this.moreCounts as number[])[i - 1] as number);
  }

  add(key: string): void {
    if (key === this.firstKey) {
      this.firstCount++;
      return;
    }
    let keys = this.moreKeys;
    let counts = this.moreCounts;
    if (keys === null || counts === null) {
      this.moreKeys = [key];
      this.moreCounts = [1];
      this.keyChars += key.length;
      return;
    }
    let i = -1;
    if (this.index !== null) i = this.index.get(key) ?? -1;
    else for (let k = 0; k < keys.length; k++) if (keys[k] === key) {
      i = k;
      break;
    }
    if (i >= 0) {
      counts[i] = (counts[i] as number) + 1;
      return;
    }
    keys.push(key);
    counts.push(1);
    this.keyChars += key.length;
    if (this.index !== null) this.index.set(key, keys.length - 1);
    else if (keys.length > INDEX_THRESHOLD) this.index = new Map(keys.map((k, n) => [k, n]));
  }

  /** Position of the highest count; the first seen wins a tie. */
  top(): number {
    const counts = this.moreCounts;
    if (counts === null) return 0;
    let best = 0;
    let bestCount = this.firstCount;
    for (let i = 0; i < counts.length; i++) {
      if ((counts[i] as number) > bestCount) {
        best = i + 1;
        bestCount = counts[i] as number;
      }
    }
    return best;
  }
}

/** What a session asks of CONVERSION_EVENTS (a Set, or LastNameSet). */
export interface NameSet {
  has(name: string): boolean;
}

/**
 * A set of names that remembers its last answer: event names repeat from
 * event to event, and comparing a name with the last one (the same interned
 * string, mostly) is cheaper than a lookup.
 */
export class LastNameSet implements NameSet {
  private last: string | null = null;
  private lastHas = false;

  constructor(private readonly names: ReadonlySet<string>) {}

  has(name: string): boolean {
    if (name !== this.last) {
      this.last = name;
      this.lastHas = this.names.has(name);
    }
    return this.lastHas;
  }
}

/** The fields of one event that a session keeps. */
export interface TallyEvent {
  readonly userId: string;
  readonly name: string;
  readonly ts: number;
  readonly channelId: string | null;
  readonly value: number | null;
}

/**
 * Most sessions have one event name and one channel: the counts of a
 * session's names and channels are fields of its own until a second distinct
 * one comes (Counts then). Two objects fewer per session to make, collect,
 * and reach when the session is written.
 */
export class SessionTally {
  readonly userId: string;
  readonly startedAt: number;
  endedAt: number;
  eventCount = 1;
  totalValue: number;
  converted: boolean;
  readonly firstEventName: string;
  lastEventName: string;
  /** Counts of the names once there are two distinct ones; until then firstEventName, eventCount times. */
  nameCounts: Counts | null = null;
  /** The first channel (null: no event had one so far) and its count, while it is the only one. */
  firstChannel: string | null;
  firstChannelCount: number;
  /** Counts of the channels once there are two distinct ones. */
  channelCounts: Counts | null = null;
  closeReason: CloseReason | null = null;
  /** OrderedSessionizer's: the user's slot in its open map while the session is open, else null. */
  slot: { session: SessionTally | null } | null = null;
  /** OrderedSessionizer's: the sequence number of the session's current entry in its activity queue. */
  activity = -1;

  /** A session that starts with `e`; `startedByCut`: its predecessor reached maxDuration. */
  constructor(
    e: TallyEvent,
    readonly startedByCut: boolean,
    conversionEvents: NameSet,
  ) {
    this.userId = e.userId;
    this.startedAt = e.ts;
    this.endedAt = e.ts;
    this.totalValue = e.value ?? 0;
    this.converted = conversionEvents.has(e.name);
    this.firstEventName = e.name;
    this.lastEventName = e.name;
    this.firstChannel = e.channelId;
    this.firstChannelCount = e.channelId === null ? 0 : 1;
  }

  /** Adds the next event of the session (in key order: it is the new last event). */
  add(e: TallyEvent, conversionEvents: NameSet): void {
    this.eventCount++;
    this.endedAt = e.ts;
    const name = e.name;
    this.lastEventName = name;
    if (e.value !== null) this.totalValue += e.value;
    if (!this.converted && conversionEvents.has(name)) this.converted = true;
    if (this.nameCounts !== null) this.nameCounts.add(name);
    else if (name !== this.firstEventName) (this.nameCounts = new Counts(this.firstEventName, this.eventCount - 1)).add(name);
    const channel = e.channelId;
    if (channel === null) return;
    if (this.channelCounts !== null) this.channelCounts.add(channel);
    else if (this.firstChannel === null) {
      this.firstChannel = channel;
      this.firstChannelCount = 1;
    } else if (channel === this.firstChannel) this.firstChannelCount++;
    else (this.channelCounts = new Counts(this.firstChannel, this.firstChannelCount)).add(channel);
  }

  /** Events by name, in the order first seen (a Counts made for the asking when there is one name). */
  get names(): Counts {
    return this.nameCounts ?? new Counts(this.firstEventName, this.eventCount);
  }

  /** Events by channel, in the order first seen; null when no event had one. */
  get channels(): Counts | null {
    if (this.channelCounts !== null) return this.channelCounts;
    return this.firstChannel === null ? null : new Counts(this.firstChannel, this.firstChannelCount);
  }

  get durationMs(): number {
    return this.endedAt - this.startedAt;
  }

  /** Highest count, then the channel seen first (the core's rule, with events in key order). */
  get topChannel(): string | null {
    const c = this.channelCounts;
    return c === null ? this.firstChannel : c.keyAt(c.top());
  }

  get topChannelCount(): number | null {
    const c = this.channelCounts;
    if (c !== null) return c.countAt(c.top());
    return this.firstChannel === null ? null : this.firstChannelCount;
  }

  engaged(rules: SessionRules): boolean {
    return (
      this.durationMs >= rules.engagedMinDurationMs || this.converted || this.eventCount >= rules.engagedMinEvents
    );
  }

  get bounced(): boolean {
    return this.eventCount === 1;
  }
}
