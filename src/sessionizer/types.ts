import type { EventAttribution } from './attribution.ts';
import type { AttributionState, SessionAttribution } from './attribution-state.ts';

/**
 * Types of the pure sessionizer core. All times are milliseconds since the
 * epoch (numbers); all durations are milliseconds.
 */

/** An accepted, de-duplicated user event as the core sees it. */
export interface SessionEvent {
  readonly eventId: string;
  readonly userId: string;
  readonly name: string;
  /** Event time, ms since the epoch. */
  readonly ts: number;
  readonly channelId: string | null;
  readonly value: number | null;
  /** Attribution inputs (url, referrer, utm) from its properties; absent or null when it has none. */
  readonly attribution?: EventAttribution | null;
}

export type SessionStatus = 'OPEN' | 'CLOSED';
export type CloseReason = 'INACTIVITY' | 'MAX_DURATION' | 'FLUSH';
export type ChangeKind = 'started' | 'updated' | 'closed' | 'removed';

/** Per-channel statistics of one session; firstAt/firstEventId is the key of the channel's first event. */
export interface ChannelStat {
  readonly count: number;
  readonly firstAt: number;
  readonly firstEventId: string;
}

/** A plain, immutable picture of one session (what is stored and published). */
export interface SessionSnapshot {
  readonly id: string;
  readonly userId: string;
  readonly status: SessionStatus;
  readonly startedAt: number;
  readonly endedAt: number;
  /** endedAt + gap. */
  readonly closesAt: number;
  /** endedAt - startedAt. */
  readonly durationMs: number;
  readonly eventCount: number;
  readonly eventCounts: Readonly<Record<string, number>>;
  readonly channels: Readonly<Record<string, ChannelStat>>;
  readonly topChannel: string | null;
  readonly totalValue: number;
  readonly converted: boolean;
  readonly engaged: boolean;
  readonly bounced: boolean;
  readonly firstEventName: string;
  readonly firstEventId: string;
  readonly lastEventName: string;
  readonly lastEventId: string;
  /** The session began because its predecessor reached maxDuration (rule 2). */
  readonly startedByCut: boolean;
  readonly closeReason: CloseReason | null;
  /** Wall-clock ms when it closed, as given by the caller. */
  readonly closedAt: number | null;
  readonly version: number;
  /** Entry and exit url, referrer, utm and channel group (attribution-state.ts). */
  readonly attribution: SessionAttribution;
}

/** One change to a session, announced and persisted by the caller. */
export interface Change {
  readonly kind: ChangeKind;
  readonly session: SessionSnapshot;
  /** For 'removed': the id of the session that took this one's events. */
  readonly mergedInto?: string;
}

/**
 * The mutable in-memory state of one session. Internal to the core; the
 * bookkeeping fields at the end serve the heaps and the change log.
 */
export interface SessionState {
  id: string;
  userId: string;
  status: SessionStatus;
  startedAt: number;
  firstEventId: string;
  firstEventName: string;
  endedAt: number;
  lastEventId: string;
  lastEventName: string;
  eventCount: number;
  totalValue: number;
  converted: boolean;
  /** Interleaved [name, count, name, count, ...]: far smaller than a Map for the usual few names. */
  names: Array<string | number>;
  /** Position of each name in `names`, built only once a session has many distinct names. */
  nameIndex: Map<string, number> | null;
  /** Interleaved [channelId, count, firstAt, firstEventId, ...], null until a channel is seen. */
  channels: Array<string | number> | null;
  channelIndex: Map<string, number> | null;
  /** Entry, exit and utm marks; null while no event of the session carried any. */
  attribution: AttributionState | null;
  startedByCut: boolean;
  closeReason: CloseReason | null;
  closedAt: number | null;
  version: number;
  /** False once the session left memory (closed, merged away, replaced by a correction). */
  live: boolean;
  /** Change-log epoch of the last touch: the version moves once per epoch. */
  touchedEpoch: number;
  /** Key of this session's current entry in the watermark heap (stale entries carry another key). */
  wmKey: number;
  /** The owner's state while the session is open in memory (spares a Map lookup on closing). */
  user: UserState | null;
  /** Set when a bridging event folded this session into an earlier one. */
  mergedInto: string | null;
}

/** What the sessionizer keeps per user (internal). */
export interface UserState {
  readonly userId: string;
  /** Open sessions ordered by first event key (usually one). */
  open: SessionState[];
  /** Wall-clock ms of the last call that brought an event of this user. */
  lastReceivedAt: number;
  /** Key of the user's current quiet-heap entry; NaN when it has none. */
  quietKey: number;
  /**
   * Largest endedAt of the user's sessions closed by FLUSH, the quiet timer or a
   * correction: events up to frontier + gap may touch them and are deferred.
   */
  frontier: number;
  /** Key of the current frontier-heap entry (frontier + gap); NaN when none. */
  frontierKey: number;
}

/** The session rules (DESIGN.md "Session rules"). */
export interface SessionRules {
  /** Inactivity gap: an event at most gapMs after the previous one joins its session. */
  readonly gapMs: number;
  /** A session never spans maxDurationMs or more. */
  readonly maxDurationMs: number;
  /** Event names that make a session converted. */
  readonly conversionEvents: ReadonlySet<string>;
  /** A session at least this long is engaged. */
  readonly engagedMinDurationMs: number;
  /** A session with at least this many events is engaged. */
  readonly engagedMinEvents: number;
}

export interface SessionizerOptions extends SessionRules {
  /** Watermark delay: watermark = largest accepted event ts - allowedLatenessMs. */
  readonly allowedLatenessMs: number;
  /** Fresh session ids (UUIDs in production). */
  readonly newId: () => string;
  /**
   * Whether users quiet for gap + lateness of wall-clock time close
   * (advanceTime). Default true; false where there is no wall clock (the
   * CLI reading a file): then no quiet deadline is kept at all.
   */
  readonly quietTimers?: boolean;
}

/** Options of the pure correction: the rules plus an id source. */
export interface CorrectionOptions extends SessionRules {
  readonly newId: () => string;
}

/** A user whose events of this call could not be placed in memory; ts range of those events. */
export interface CorrectionRequest {
  readonly userId: string;
  readonly fromTs: number;
  readonly toTs: number;
}

export interface CorrectionInput {
  readonly userId: string;
  /** Every stored event of the user with ts inside the region, any order. */
  readonly events: readonly SessionEvent[];
  /** Every stored session of the user in the region (see expandRegion), any status. */
  readonly stored: readonly SessionSnapshot[];
  /** The sessionizer's watermark after the call that deferred the events. */
  readonly watermark: number;
  readonly nowMs: number;
}

export interface CorrectionResult {
  /** The region's sessions as the rules define them, ordered by startedAt. */
  readonly sessions: SessionSnapshot[];
  /** Only what differs from the stored sessions. */
  readonly changes: Change[];
}

/** A user's time range to load for a correction (ms). */
export interface Region {
  readonly userId: string;
  readonly fromTs: number;
  readonly toTs: number;
}

/** What the store holds of one region. */
export interface LoadedRegion {
  readonly events: SessionEvent[];
  readonly sessions: SessionSnapshot[];
}

/**
 * The storage the batch orchestration needs (a port owned by the core). The
 * in-memory twin is MemorySessionStore; production uses Postgres.
 */
export interface SessionStorePort {
  /** Stores events whose eventId is new (first one wins); returns those, in input order. */
  insertEvents(events: readonly SessionEvent[]): Promise<SessionEvent[]>;
  /**
   * For each region (one per user): the user's events with fromTs <= ts <=
   * toTs, and the user's sessions (any status) overlapping [fromTs, toTs]
   * (endedAt >= fromTs and startedAt <= toTs). All regions in one call: the
   * corrections of a group cost a constant number of round trips.
   */
  loadRegions(regions: readonly Region[]): Promise<Map<string, LoadedRegion>>;
  /** Applies changes in order: 'removed' deletes, the others upsert the snapshot by id. */
  saveChanges(changes: readonly Change[]): Promise<void>;
}
