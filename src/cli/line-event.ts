/**
 * The events of `sessions sessionize` and their key order (ts, eventId), the
 * order the session rules read events in (DESIGN.md, "Session rules").
 */
import { lineIdPrefix } from './event-id.ts';
import type { LineFields } from './event-line.ts';
import type { TallyEvent } from './session-tally.ts';

/** One line's event and its place in the input. */
export interface LineEvent extends TallyEvent {
  /** Line number, 1-based. */
  readonly line: number;
  /** The line's own eventId, or null: then its derived id would start with lineIdPrefix(line). */
  readonly ownId: string | null;
}

/** The event of the line `line` whose fields were just mapped into `f`. */
export function lineEventOf(f: LineFields, line: number): LineEvent {
  return { userId: f.userId, name: f.name, ts: f.ts, channelId: f.channelId, value: f.value, line, ownId: f.eventId };
}

/**
 * True when a comes before b in key order. Lines without an eventId compare
 * by line number, which orders them exactly as their derived ids would, so
 * those ids are never built (a string per line costs as much as the rest of
 * the comparison work).
 */
export function eventBefore(a: LineEvent, b: LineEvent): boolean {
  if (a.ts !== b.ts) return a.ts < b.ts;
  if (a.ownId === null && b.ownId === null) return a.line < b.line;
  return (a.ownId ?? lineIdPrefix(a.line)) < (b.ownId ?? lineIdPrefix(b.line));
}
