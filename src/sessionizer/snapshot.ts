import { sameAttribution, sessionAttribution } from './attribution-state.ts';
import { CHANNEL_STRIDE, keyLess, NAME_STRIDE } from './metrics.ts';
import type { ChannelStat, SessionRules, SessionSnapshot, SessionState } from './types.ts';

const EMPTY_CHANNELS: Readonly<Record<string, ChannelStat>> = Object.freeze({});

/** Sets an own enumerable property even for the key "__proto__" (which `obj[key] =` would turn into the prototype). */
export function setOwn<T>(obj: Record<string, T>, key: string, value: T): void {
  if (key === '__proto__') {
    Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
  } else {
    obj[key] = value;
  }
}

/** The plain snapshot of a session with its derived fields. */
export function snapshotOf(s: SessionState, rules: SessionRules): SessionSnapshot {
  const eventCounts: Record<string, number> = {};
  const n = s.names;
  for (let i = 0; i < n.length; i += NAME_STRIDE) setOwn(eventCounts, n[i] as string, n[i + 1] as number);
  let channels = EMPTY_CHANNELS;
  let topChannel: string | null = null;
  const c = s.channels;
  if (c !== null) {
    const out: Record<string, ChannelStat> = {};
    for (let i = 0; i < c.length; i += CHANNEL_STRIDE) {
      const stat: ChannelStat = { count: c[i + 1] as number, firstAt: c[i + 2] as number, firstEventId: c[i + 3] as string };
      setOwn(out, c[i] as string, stat);
    }
    channels = out;
    topChannel = c[topChannelAt(c)] as string;
  }
  const durationMs = s.endedAt - s.startedAt;
  return {
    id: s.id,
    userId: s.userId,
    status: s.status,
    startedAt: s.startedAt,
    endedAt: s.endedAt,
    closesAt: s.endedAt + rules.gapMs,
    durationMs,
    eventCount: s.eventCount,
    eventCounts,
    channels,
    topChannel,
    totalValue: s.totalValue,
    converted: s.converted,
    engaged: isEngaged(s, rules),
    bounced: s.eventCount === 1,
    firstEventName: s.firstEventName,
    firstEventId: s.firstEventId,
    lastEventName: s.lastEventName,
    lastEventId: s.lastEventId,
    startedByCut: s.startedByCut,
    closeReason: s.closeReason,
    closedAt: s.closedAt,
    version: s.version,
    attribution: sessionAttribution(s.attribution),
  };
}

/** Index in the interleaved channel list (CHANNEL_STRIDE) of the session's top channel: most events, then first seen. */
export function topChannelAt(c: ReadonlyArray<string | number>): number {
  let bestAt = 0;
  for (let i = CHANNEL_STRIDE; i < c.length; i += CHANNEL_STRIDE) if (isBetterChannel(c, i, bestAt)) bestAt = i;
  return bestAt;
}

/** The engaged rule: long enough, converted, or enough events. */
export function isEngaged(s: Pick<SessionState, 'startedAt' | 'endedAt' | 'converted' | 'eventCount'>, rules: SessionRules): boolean {
  return s.endedAt - s.startedAt >= rules.engagedMinDurationMs || s.converted || s.eventCount >= rules.engagedMinEvents;
}

function isBetterChannel(c: ReadonlyArray<string | number>, i: number, j: number): boolean {
  const ci = c[i + 1] as number;
  const cj = c[j + 1] as number;
  if (ci !== cj) return ci > cj;
  const ti = c[i + 2] as number;
  const tj = c[j + 2] as number;
  const ei = c[i + 3] as string;
  const ej = c[j + 3] as string;
  if (ti !== tj || ei !== ej) return keyLess(ti, ei, tj, ej);
  return (c[i] as string) < (c[j] as string);
}

function sameRecord<T>(
  a: Readonly<Record<string, T>>,
  b: Readonly<Record<string, T>>,
  same: (x: T, y: T) => boolean,
): boolean {
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  for (const k of ka) {
    if (!Object.prototype.hasOwnProperty.call(b, k) || !same(a[k] as T, b[k] as T)) return false;
  }
  return true;
}

const sameChannel = (x: ChannelStat, y: ChannelStat): boolean =>
  x.count === y.count && x.firstAt === y.firstAt && x.firstEventId === y.firstEventId;

/** True when two snapshots agree on every field but version. */
export function sameContent(a: SessionSnapshot, b: SessionSnapshot): boolean {
  return (
    a.id === b.id &&
    a.userId === b.userId &&
    a.status === b.status &&
    a.startedAt === b.startedAt &&
    a.endedAt === b.endedAt &&
    a.closesAt === b.closesAt &&
    a.eventCount === b.eventCount &&
    a.topChannel === b.topChannel &&
    a.totalValue === b.totalValue &&
    a.converted === b.converted &&
    a.engaged === b.engaged &&
    a.firstEventId === b.firstEventId &&
    a.firstEventName === b.firstEventName &&
    a.lastEventId === b.lastEventId &&
    a.lastEventName === b.lastEventName &&
    a.startedByCut === b.startedByCut &&
    a.closeReason === b.closeReason &&
    a.closedAt === b.closedAt &&
    sameAttribution(a.attribution, b.attribution) &&
    sameRecord(a.eventCounts, b.eventCounts, (x, y) => x === y) &&
    sameRecord(a.channels, b.channels, sameChannel)
  );
}
