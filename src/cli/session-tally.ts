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
  private firstCount = 1;
  private moreKeys: string[] | null = null;
  private moreCounts: number[] | null = null;
  private index: Map<string, number> | null = null;
  /** Total length of the keys (room for writing them, without walking them). */
  keyChars: number;

  constructor(first: string) {
    this.firstKey = first;
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

/** The fields of one event that a session keeps. */
export interface TallyEvent {
  readonly userId: string;
  readonly name: string;
  readonly ts: number;
  readonly channelId: string | null;
  readonly value: number | null;
}

export class SessionTally {
  readonly userId: string;
  readonly startedAt: number;
  endedAt: number;
  eventCount = 1;
  totalValue: number;
  converted: boolean;
  readonly firstEventName: string;
  lastEventName: string;
  readonly names: Counts;
  channels: Counts | null;
  closeReason: CloseReason | null = null;
  /** Neighbours in OrderedSessionizer's activity list. */
  prev: SessionTally | null = null;
  next: SessionTally | null = null;

  /** A session that starts with `e`; `startedByCut`: its predecessor reached maxDuration. */
  constructor(
    e: TallyEvent,
    readonly startedByCut: boolean,
    conversionEvents: ReadonlySet<string>,
  ) {
    this.userId = e.userId;
    this.startedAt = e.ts;
    this.endedAt = e.ts;
    this.totalValue = e.value ?? 0;
    this.converted = conversionEvents.has(e.name);
    this.firstEventName = e.name;
    this.lastEventName = e.name;
    this.names = new Counts(e.name);
    this.channels = e.channelId === null ? null : new Counts(e.channelId);
  }

  /** Adds the next event of the session (in key order: it is the new last event). */
  add(e: TallyEvent, conversionEvents: ReadonlySet<string>): void {
    this.eventCount++;
    this.endedAt = e.ts;
    this.lastEventName = e.name;
    if (e.value !== null) this.totalValue += e.value;
    if (!this.converted && conversionEvents.has(e.name)) this.converted = true;
    this.names.add(e.name);
    if (e.channelId === null) return;
    if (this.channels === null) this.channels = new Counts(e.channelId);
    else this.channels.add(e.channelId);
  }

  get durationMs(): number {
    return this.endedAt - this.startedAt;
  }

  /** Highest count, then the channel seen first (the core's rule, with events in key order). */
  get topChannel(): string | null {
    return this.channels === null ? null : this.channels.keyAt(this.channels.top());
  }

  get topChannelCount(): number | null {
    return this.channels === null ? null : this.channels.countAt(this.channels.top());
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
