import { addAttribution, attributionStateFrom, attributionStateOf, mergeAttribution } from './attribution-state.ts';
import type {
  ChannelStat,
  SessionEvent,
  SessionSnapshot,
  SessionState,
} from './types.ts';

/** Beyond this many distinct names (or channels) a session gets a Map index; below it a scan is faster and smaller. */
const INDEX_THRESHOLD = 16;
export const NAME_STRIDE = 2;
export const CHANNEL_STRIDE = 4;

/** Event key order: (ts, eventId), ids compared as plain strings. */
export function keyLess(aTs: number, aId: string, bTs: number, bId: string): boolean {
  return aTs < bTs || (aTs === bTs && aId < bId);
}

/** Comparator for sorting events by key. */
export function compareEvents(a: SessionEvent, b: SessionEvent): number {
  if (a.ts !== b.ts) return a.ts - b.ts;
  return a.eventId < b.eventId ? -1 : a.eventId > b.eventId ? 1 : 0;
}

/** A new OPEN session holding just `e`. */
export function createState(
  id: string,
  e: SessionEvent,
  startedByCut: boolean,
  conversionEvents: ReadonlySet<string>,
): SessionState {
  const s: SessionState = {
    id,
    userId: e.userId,
    status: 'OPEN',
    startedAt: e.ts,
    firstEventId: e.eventId,
    firstEventName: e.name,
    endedAt: e.ts,
    lastEventId: e.eventId,
    lastEventName: e.name,
    eventCount: 1,
    totalValue: e.value ?? 0,
    converted: conversionEvents.has(e.name),
    names: [e.name, 1],
    nameIndex: null,
    channels: e.channelId === null ? null : [e.channelId, 1, e.ts, e.eventId],
    channelIndex: null,
    attribution: attributionStateOf(e, e.attribution),
    startedByCut,
    closeReason: null,
    closedAt: null,
    version: 1,
    live: true,
    touchedEpoch: 0,
    wmKey: Number.NaN,
    user: null,
    mergedInto: null,
  };
  return s;
}

function findName(s: SessionState, name: string): number {
  if (s.nameIndex !== null) return s.nameIndex.get(name) ?? -1;
  const a = s.names;
  for (let i = 0; i < a.length; i += NAME_STRIDE) if (a[i] === name) return i;
  return -1;
}

function addName(s: SessionState, name: string, count: number): void {
  const i = findName(s, name);
  const a = s.names;
  if (i >= 0) {
    a[i + 1] = (a[i + 1] as number) + count;
    return;
  }
  const at = a.length;
  const grown = appended(a, NAME_STRIDE);
  grown[at] = name;
  grown[at + 1] = count;
  s.names = grown;
  if (s.nameIndex !== null) s.nameIndex.set(name, at);
  else if (grown.length > INDEX_THRESHOLD * NAME_STRIDE) s.nameIndex = buildIndex(grown, NAME_STRIDE);
}

function findChannel(s: SessionState, channelId: string): number {
  if (s.channelIndex !== null) return s.channelIndex.get(channelId) ?? -1;
  const a = s.channels;
  if (a === null) return -1;
  for (let i = 0; i < a.length; i += CHANNEL_STRIDE) if (a[i] === channelId) return i;
  return -1;
}

function addChannel(s: SessionState, channelId: string, count: number, ts: number, eventId: string): void {
  const i = findChannel(s, channelId);
  const a = s.channels;
  if (a !== null && i >= 0) {
    a[i + 1] = (a[i + 1] as number) + count;
    if (keyLess(ts, eventId, a[i + 2] as number, a[i + 3] as string)) {
      a[i + 2] = ts;
      a[i + 3] = eventId;
    }
    return;
  }
  if (a === null) {
    s.channels = [channelId, count, ts, eventId];
    return;
  }
  const at = a.length;
  const grown = appended(a, CHANNEL_STRIDE);
  grown[at] = channelId;
  grown[at + 1] = count;
  grown[at + 2] = ts;
  grown[at + 3] = eventId;
  s.channels = grown;
  if (s.channelIndex !== null) s.channelIndex.set(channelId, at);
  else if (grown.length > INDEX_THRESHOLD * CHANNEL_STRIDE) s.channelIndex = buildIndex(grown, CHANNEL_STRIDE);
}

/**
 * A copy of `a` with room for `extra` more entries. New names and channels are
 * rare (a few per session), so exact-size copies cost little and spare the
 * half-empty capacity that push() would leave in every open session.
 */
function appended(a: Array<string | number>, extra: number): Array<string | number> {
  const out = new Array<string | number>(a.length + extra);
  for (let i = 0; i < a.length; i++) out[i] = a[i] as string | number;
  return out;
}

function buildIndex(a: Array<string | number>, stride: number): Map<string, number> {
  const m = new Map<string, number>();
  for (let i = 0; i < a.length; i += stride) m.set(a[i] as string, i);
  return m;
}

/** Accumulates one event into a session; boundaries follow the event key. */
export function addEvent(s: SessionState, e: SessionEvent, conversionEvents: ReadonlySet<string>): void {
  s.eventCount++;
  if (e.value !== null) s.totalValue += e.value;
  if (!s.converted && conversionEvents.has(e.name)) s.converted = true;
  addName(s, e.name, 1);
  if (e.channelId !== null) addChannel(s, e.channelId, 1, e.ts, e.eventId);
  if (e.attribution !== null && e.attribution !== undefined) {
    s.attribution = addAttribution(s.attribution, e, e.attribution);
  }
  if (keyLess(e.ts, e.eventId, s.startedAt, s.firstEventId)) {
    s.startedAt = e.ts;
    s.firstEventId = e.eventId;
    s.firstEventName = e.name;
  } else if (keyLess(s.endedAt, s.lastEventId, e.ts, e.eventId)) {
    s.endedAt = e.ts;
    s.lastEventId = e.eventId;
    s.lastEventName = e.name;
  }
}

/** Folds `later` (whose events all follow `target`'s) into `target`. */
export function absorb(target: SessionState, later: SessionState): void {
  target.eventCount += later.eventCount;
  target.totalValue += later.totalValue;
  target.converted ||= later.converted;
  const n = later.names;
  for (let i = 0; i < n.length; i += NAME_STRIDE) addName(target, n[i] as string, n[i + 1] as number);
  const c = later.channels;
  if (c !== null) {
    for (let i = 0; i < c.length; i += CHANNEL_STRIDE) {
      addChannel(target, c[i] as string, c[i + 1] as number, c[i + 2] as number, c[i + 3] as string);
    }
  }
  target.attribution = mergeAttribution(target.attribution, later.attribution);
  target.endedAt = later.endedAt;
  target.lastEventId = later.lastEventId;
  target.lastEventName = later.lastEventName;
}

/** Rebuilds the in-memory state of a stored session (restore, corrections). */
export function stateFromSnapshot(snap: SessionSnapshot): SessionState {
  const s: SessionState = {
    id: snap.id,
    userId: snap.userId,
    status: snap.status,
    startedAt: snap.startedAt,
    firstEventId: snap.firstEventId,
    firstEventName: snap.firstEventName,
    endedAt: snap.endedAt,
    lastEventId: snap.lastEventId,
    lastEventName: snap.lastEventName,
    eventCount: snap.eventCount,
    totalValue: snap.totalValue,
    converted: snap.converted,
    names: [],
    nameIndex: null,
    channels: null,
    channelIndex: null,
    attribution: attributionStateFrom(snap.attribution),
    startedByCut: snap.startedByCut,
    closeReason: snap.closeReason,
    closedAt: snap.closedAt,
    version: snap.version,
    live: true,
    touchedEpoch: 0,
    wmKey: Number.NaN,
    user: null,
    mergedInto: null,
  };
  for (const name of Object.keys(snap.eventCounts)) addName(s, name, snap.eventCounts[name] as number);
  for (const id of Object.keys(snap.channels)) {
    const c = snap.channels[id] as ChannelStat;
    addChannel(s, id, c.count, c.firstAt, c.firstEventId);
  }
  return s;
}

/** Copies a snapshot's content into an existing state, keeping its bookkeeping. */
export function resetFromSnapshot(s: SessionState, snap: SessionSnapshot): void {
  const fresh = stateFromSnapshot(snap);
  fresh.touchedEpoch = s.touchedEpoch;
  fresh.wmKey = s.wmKey;
  Object.assign(s, fresh);
}
