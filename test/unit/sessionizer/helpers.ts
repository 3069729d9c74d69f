import { expect } from 'vitest';
import { MemorySessionStore, runBatch } from '../../helpers/memory-store.ts';
import { referenceSessions } from './rules-reference.ts';
import { Sessionizer } from '../../../src/sessionizer/sessionizer.ts';
import type { ReferenceSession } from './rules-reference.ts';
import type { SessionEvent, SessionizerOptions, SessionSnapshot } from '../../../src/sessionizer/types.ts';

export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;

/** Deterministic ids: s1, s2, ... */
export function idSource(prefix = 's'): () => string {
  let n = 0;
  return () => `${prefix}${++n}`;
}

export function options(overrides: Partial<SessionizerOptions> = {}): SessionizerOptions {
  return {
    gapMs: 30 * MINUTE,
    maxDurationMs: 24 * HOUR,
    allowedLatenessMs: 30_000,
    conversionEvents: new Set(['purchase']),
    engagedMinDurationMs: 10_000,
    engagedMinEvents: 2,
    newId: idSource(),
    ...overrides,
  };
}

let seq = 0;
/** An event with defaults; eventId defaults to a fresh sortable id. */
export function ev(ts: number, over: Partial<SessionEvent> = {}): SessionEvent {
  seq++;
  return {
    eventId: over.eventId ?? `e${String(seq).padStart(6, '0')}`,
    userId: over.userId ?? 'u1',
    name: over.name ?? 'view',
    ts,
    channelId: over.channelId === undefined ? null : over.channelId,
    value: over.value === undefined ? null : over.value,
    ...(over.attribution === undefined ? {} : { attribution: over.attribution }),
  };
}

/** The fields the rules define, for comparing stored sessions with the reference. */
export interface Shape {
  userId: string;
  startedAt: number;
  endedAt: number;
  eventCount: number;
  eventCounts: Record<string, number>;
  channels: Record<string, number>;
  topChannel: string | null;
  totalValue: number;
  converted: boolean;
  engaged: boolean;
  bounced: boolean;
  firstEventName: string;
  firstEventId: string;
  lastEventName: string;
  lastEventId: string;
  startedByCut: boolean;
  attribution: Record<string, string | null>;
}

function sortedRecord<T, U>(r: Readonly<Record<string, T>>, f: (x: T) => U): Record<string, U> {
  const out: Record<string, U> = {};
  for (const k of Object.keys(r).sort()) out[k] = f(r[k] as T);
  return out;
}

const ATTRIBUTION_FIELDS = [
  'entryUrl', 'exitUrl', 'referrer', 'referrerDomain', 'utmSource', 'utmMedium', 'utmCampaign', 'utmTerm', 'utmContent', 'channelGroup',
] as const;

export function shape(s: SessionSnapshot | ReferenceSession): Shape {
  const a = 'attribution' in s ? s.attribution : s;
  return {
    userId: s.userId,
    startedAt: s.startedAt,
    endedAt: s.endedAt,
    eventCount: s.eventCount,
    eventCounts: sortedRecord(s.eventCounts, (x) => x),
    channels: sortedRecord(s.channels, (c) => c.count),
    topChannel: s.topChannel,
    totalValue: s.totalValue,
    converted: s.converted,
    engaged: s.engaged,
    bounced: s.bounced,
    firstEventName: s.firstEventName,
    firstEventId: s.firstEventId,
    lastEventName: s.lastEventName,
    lastEventId: s.lastEventId,
    startedByCut: s.startedByCut,
    attribution: Object.fromEntries(ATTRIBUTION_FIELDS.map((f) => [f, a[f]])),
  };
}

export function byUserStart(a: Shape, b: Shape): number {
  return a.userId !== b.userId ? (a.userId < b.userId ? -1 : 1) : a.startedAt - b.startedAt;
}

export function expectedShapes(events: readonly SessionEvent[], opts: SessionizerOptions): Shape[] {
  return referenceSessions(events, opts).map(shape).sort(byUserStart);
}

export function actualShapes(sessions: Iterable<SessionSnapshot>): Shape[] {
  return [...sessions].map(shape).sort(byUserStart);
}

/**
 * Runs events through the sessionizer and the in-memory store (one batch per
 * inner array), checks the result against the reference and returns the
 * stored sessions ordered by user and start.
 */
export async function sessionize(
  batches: readonly (readonly SessionEvent[])[],
  opts: SessionizerOptions,
): Promise<{ sessions: SessionSnapshot[]; sz: Sessionizer; store: MemorySessionStore }> {
  const sz = new Sessionizer(opts);
  const store = new MemorySessionStore({ checkVersions: true });
  let now = 1_000_000;
  for (const batch of batches) await runBatch(sz, batch, store, now++);
  const sessions = store.list();
  const all = batches.flat();
  expect(actualShapes(sessions)).toEqual(expectedShapes(all, opts));
  return { sessions, sz, store };
}
