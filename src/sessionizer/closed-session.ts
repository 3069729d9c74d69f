import { CHANNEL_STRIDE, NAME_STRIDE } from './metrics.ts';
import { isEngaged, topChannelAt } from './snapshot.ts';
import type { CloseReason, SessionRules, SessionSnapshot, SessionState } from './types.ts';

/**
 * A closed session as Sessionizer.drainClosed gives it, for a caller that
 * only writes final sessions out (the CLI): the values of its snapshot,
 * derived by the same rules, but the counts per event name and per channel
 * stay interleaved lists in first-seen order instead of records (objects
 * with arbitrary keys are costly to build and to walk, and a file makes
 * hundreds of thousands of sessions).
 */
export interface ClosedSession {
  readonly userId: string;
  readonly startedAt: number;
  readonly endedAt: number;
  /** endedAt - startedAt. */
  readonly durationMs: number;
  readonly eventCount: number;
  /** [name, count, name, count, ...]: NAME_STRIDE entries per name. */
  readonly names: ReadonlyArray<string | number>;
  /** [channelId, count, firstAt, firstEventId, ...]: CHANNEL_STRIDE entries per channel; empty without one. */
  readonly channels: ReadonlyArray<string | number>;
  readonly topChannel: string | null;
  /** Events of the top channel; null without one. */
  readonly topChannelCount: number | null;
  readonly totalValue: number;
  readonly converted: boolean;
  readonly engaged: boolean;
  readonly bounced: boolean;
  readonly firstEventName: string;
  readonly lastEventName: string;
  readonly closeReason: CloseReason;
}

const NO_CHANNELS: ReadonlyArray<string | number> = Object.freeze([]);

/** A closed state's values. Its lists are shared, not copied: a closed state no longer changes. */
export function closedSessionOf(s: SessionState, rules: SessionRules): ClosedSession {
  const c = s.channels;
  const top = c === null ? -1 : topChannelAt(c);
  return {
    userId: s.userId,
    startedAt: s.startedAt,
    endedAt: s.endedAt,
    durationMs: s.endedAt - s.startedAt,
    eventCount: s.eventCount,
    names: s.names,
    channels: c ?? NO_CHANNELS,
    topChannel: c === null ? null : (c[top] as string),
    topChannelCount: c === null ? null : (c[top + 1] as number),
    totalValue: s.totalValue,
    converted: s.converted,
    engaged: isEngaged(s, rules),
    bounced: s.eventCount === 1,
    firstEventName: s.firstEventName,
    lastEventName: s.lastEventName,
    closeReason: s.closeReason as CloseReason,
  };
}

/** The same from a closed session's snapshot (a correction's, which carries no state). */
export function closedSessionFromSnapshot(snap: SessionSnapshot): ClosedSession {
  const names: Array<string | number> = [];
  for (const name of Object.keys(snap.eventCounts)) names.push(name, snap.eventCounts[name] as number);
  const channels: Array<string | number> = [];
  for (const id of Object.keys(snap.channels)) {
    const stat = snap.channels[id];
    if (stat !== undefined) channels.push(id, stat.count, stat.firstAt, stat.firstEventId);
  }
  return {
    userId: snap.userId,
    startedAt: snap.startedAt,
    endedAt: snap.endedAt,
    durationMs: snap.durationMs,
    eventCount: snap.eventCount,
    names,
    channels,
    topChannel: snap.topChannel,
    topChannelCount: snap.topChannel === null ? null : (snap.channels[snap.topChannel]?.count ?? null),
    totalValue: snap.totalValue,
    converted: snap.converted,
    engaged: snap.engaged,
    bounced: snap.bounced,
    firstEventName: snap.firstEventName,
    lastEventName: snap.lastEventName,
    closeReason: snap.closeReason as CloseReason,
  };
}

export { CHANNEL_STRIDE, NAME_STRIDE };
