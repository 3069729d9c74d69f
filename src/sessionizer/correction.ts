import { addEvent, compareEvents, createState, keyLess } from './metrics.ts';
import { sameContent, snapshotOf } from './snapshot.ts';
import type {
  Change,
  CloseReason,
  CorrectionInput,
  CorrectionOptions,
  CorrectionResult,
  SessionEvent,
  SessionSnapshot,
  SessionStatus,
} from './types.ts';

/** The stored sessions and time span a correction must re-run. */
export interface Region {
  readonly fromTs: number;
  readonly toTs: number;
  readonly sessions: SessionSnapshot[];
}

/**
 * Chooses the correction region for deferred events spanning [fromTs, toTs].
 * It holds every stored session whose [startedAt - gap, endedAt + gap]
 * overlaps [fromTs, toTs], extended through neighbours within gap of each
 * other (chains cut by MAX_DURATION); the events to load are those with
 * region.fromTs <= ts <= region.toTs. In SQL: load the user's sessions with
 * endedAt >= fromTs - gap and startedAt <= toTs + gap, call this, and widen
 * the query while the result reaches past what was loaded (see correctUsers in run-batch.ts).
 *
 * @param sessionsSortedByStart the user's stored sessions ordered by startedAt (any status)
 */
export function expandRegion(
  fromTs: number,
  toTs: number,
  sessionsSortedByStart: readonly SessionSnapshot[],
  gapMs: number,
): Region {
  const all = sessionsSortedByStart;
  let lo = -1;
  let hi = -1;
  for (let i = 0; i < all.length; i++) {
    const s = all[i] as SessionSnapshot;
    if (s.startedAt - gapMs <= toTs && s.endedAt + gapMs >= fromTs) {
      if (lo < 0) lo = i;
      hi = i;
    }
  }
  if (lo < 0) return { fromTs, toTs, sessions: [] };
  while (lo > 0 && (all[lo - 1] as SessionSnapshot).endedAt + gapMs >= (all[lo] as SessionSnapshot).startedAt) lo--;
  while (hi < all.length - 1 && (all[hi + 1] as SessionSnapshot).startedAt - gapMs <= (all[hi] as SessionSnapshot).endedAt) hi++;
  return {
    fromTs: Math.min(fromTs, (all[lo] as SessionSnapshot).startedAt),
    toTs: Math.max(toTs, (all[hi] as SessionSnapshot).endedAt),
    sessions: all.slice(lo, hi + 1),
  };
}

interface Group {
  from: number;
  to: number; // exclusive
  byCut: boolean;
  cutAfter: boolean;
}

/** Session rules over key-sorted events: [from, to) index ranges. */
function groupEvents(events: readonly SessionEvent[], gapMs: number, maxDurationMs: number): Group[] {
  const groups: Group[] = [];
  if (events.length === 0) return groups;
  let cur: Group = { from: 0, to: 1, byCut: false, cutAfter: false };
  for (let i = 1; i < events.length; i++) {
    const e = events[i] as SessionEvent;
    const gapOk = e.ts - (events[i - 1] as SessionEvent).ts <= gapMs;
    if (gapOk && e.ts - (events[cur.from] as SessionEvent).ts < maxDurationMs) {
      cur.to = i + 1;
      continue;
    }
    cur.cutAfter = gapOk;
    groups.push(cur);
    cur = { from: i, to: i + 1, byCut: gapOk, cutAfter: false };
  }
  groups.push(cur);
  return groups;
}

function uniqueSorted(events: readonly SessionEvent[]): SessionEvent[] {
  const seen = new Set<string>();
  const out: SessionEvent[] = [];
  for (const e of events) {
    if (seen.has(e.eventId)) continue;
    seen.add(e.eventId);
    out.push(e);
  }
  return out.sort(compareEvents);
}

/**
 * Recomputes a user's region from its stored events (pure). Each resulting
 * session takes the id of the earliest-starting stored session among those
 * whose events it holds that no earlier session took, else a new id; stored
 * sessions left without an id are 'removed' (mergedInto = the session that
 * got their first event). Unchanged sessions yield no change.
 */
export function correctSessions(input: CorrectionInput, opts: CorrectionOptions): CorrectionResult {
  const events = uniqueSorted(input.events);
  const stored = [...input.stored].sort((a, b) =>
    keyLess(a.startedAt, a.firstEventId, b.startedAt, b.firstEventId) ? -1 : 1,
  );
  // owner[i]: the stored session whose key range holds event i (-1: a deferred event).
  const owner = new Int32Array(events.length).fill(-1);
  for (let i = 0, k = 0; i < events.length; i++) {
    const e = events[i] as SessionEvent;
    while (k < stored.length && keyLess((stored[k] as SessionSnapshot).endedAt, (stored[k] as SessionSnapshot).lastEventId, e.ts, e.eventId)) k++;
    const s = stored[k];
    if (s !== undefined && !keyLess(e.ts, e.eventId, s.startedAt, s.firstEventId)) owner[i] = k;
  }

  const groups = groupEvents(events, opts.gapMs, opts.maxDurationMs);
  const taken = new Set<string>();
  const groupOfStored = new Int32Array(stored.length).fill(-1);
  const sessions: SessionSnapshot[] = [];
  const changes: Change[] = [];
  const groupIds: string[] = [];
  for (let g = 0; g < groups.length; g++) {
    const grp = groups[g] as Group;
    const parts: SessionSnapshot[] = [];
    let reused: SessionSnapshot | undefined;
    let prev = -1;
    for (let i = grp.from; i < grp.to; i++) {
      const o = owner[i] as number; // non-decreasing: events and stored sessions are both in key order
      if (o < 0 || o === prev) continue;
      prev = o;
      if (groupOfStored[o] === -1) groupOfStored[o] = g;
      const s = stored[o] as SessionSnapshot;
      parts.push(s);
      if (reused === undefined && !taken.has(s.id)) reused = s;
    }
    const id = reused?.id ?? opts.newId();
    taken.add(id);
    groupIds.push(id);

    const first = events[grp.from] as SessionEvent;
    const state = createState(id, first, grp.byCut, opts.conversionEvents);
    for (let i = grp.from + 1; i < grp.to; i++) addEvent(state, events[i] as SessionEvent, opts.conversionEvents);
    // A MAX_DURATION closure of another part is structural (re-derived above), not a
    // closing in time: counting it would close a user's live tail session.
    const closedPart =
      reused?.status === 'CLOSED' ? reused : parts.find((p) => p.status === 'CLOSED' && p.closeReason !== 'MAX_DURATION');
    const st = statusOf(grp, state.endedAt + opts.gapMs, closedPart, input);
    state.status = st.status;
    state.closeReason = st.closeReason;
    state.closedAt = st.closedAt;
    state.version = reused === undefined ? 1 : reused.version + 1;
    const snap = snapshotOf(state, opts);

    if (reused === undefined) {
      sessions.push(snap);
      changes.push({ kind: 'started', session: snap });
      if (snap.status === 'CLOSED') changes.push({ kind: 'closed', session: snap });
    } else if (sameContent(snap, reused)) {
      sessions.push(reused);
    } else {
      sessions.push(snap);
      const newlyClosed = reused.status === 'OPEN' && snap.status === 'CLOSED';
      const asBefore = { ...snap, status: reused.status, closeReason: reused.closeReason, closedAt: reused.closedAt };
      if (!newlyClosed || !sameContent(asBefore, reused)) changes.push({ kind: 'updated', session: snap });
      if (newlyClosed) changes.push({ kind: 'closed', session: snap });
    }
  }
  for (let o = 0; o < stored.length; o++) {
    const s = stored[o] as SessionSnapshot;
    if (taken.has(s.id)) continue;
    const g = groupOfStored[o] as number;
    // g < 0: none of its events was loaded (an inconsistent region); nothing took them.
    changes.push(g < 0 ? { kind: 'removed', session: s } : { kind: 'removed', session: s, mergedInto: groupIds[g] as string });
  }
  return { sessions, changes };
}

interface StatusFields {
  status: SessionStatus;
  closeReason: CloseReason | null;
  closedAt: number | null;
}

/**
 * Cut by MAX_DURATION -> CLOSED/MAX_DURATION; else a closed part (the session
 * whose id it keeps, or another part closed for a reason other than
 * MAX_DURATION) keeps it closed with that part's reason and closedAt
 * (MAX_DURATION no longer applies: INACTIVITY), so a closed id never reopens;
 * else closesAt < watermark -> CLOSED/INACTIVITY; else OPEN.
 */
function statusOf(
  grp: Group,
  closesAt: number,
  closedPart: SessionSnapshot | undefined,
  input: CorrectionInput,
): StatusFields {
  const closedAt = closedPart?.closedAt ?? input.nowMs;
  if (grp.cutAfter) return { status: 'CLOSED', closeReason: 'MAX_DURATION', closedAt };
  if (closedPart !== undefined) {
    const kept = closedPart.closeReason;
    return { status: 'CLOSED', closeReason: kept === null || kept === 'MAX_DURATION' ? 'INACTIVITY' : kept, closedAt };
  }
  if (closesAt < input.watermark) return { status: 'CLOSED', closeReason: 'INACTIVITY', closedAt };
  return { status: 'OPEN', closeReason: null, closedAt: null };
}
