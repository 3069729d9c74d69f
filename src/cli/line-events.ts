/**
 * Lines of text -> checked events or coded refusals, the same in the main
 * thread and in the parse workers: the field mapping (event-line.ts), then
 * the service's checks (checkEvent). Each line is read by the scanner
 * (line-scanner.ts); a line it leaves (invalid JSON, a mapped value of the
 * wrong type, a repeated key) is read here with JSON.parse: both give the
 * same event or refusal. Lines of Segment messages (`--input-format
 * segment`) are mapped by the service's Segment endpoint's own mapping
 * instead (src/server/segment/message.ts). Derived ids are left to the
 * caller (event-order.ts computes them only where they matter).
 */
import { RejectCode } from '../errors.ts';
import { checkEvent, type CheckedEvent, type EventInput, type ValidationLimits } from '../ingest/validate.ts';
import { mapBatchedMessage, MAX_MESSAGE_BYTES } from '../server/segment/message.ts';
import { eventInputOf, InexactId, INVALID_JSON } from './event-line.ts';
import { scanLine } from './line-scanner.ts';

/**
 * What a line holds: an event's fields by the table of docs/cli.md
 * ("events"), or a Segment message ("segment": track, page and screen are
 * events, identify, group and alias are skipped, as the service's Segment
 * endpoint takes them).
 */
export type InputFormat = 'events' | 'segment';
export const INPUT_FORMATS: readonly InputFormat[] = ['events', 'segment'];

/** How lines are read: the service's limits, and the lines' format (events when absent). */
export interface LineOptions extends ValidationLimits {
  readonly inputFormat?: InputFormat;
}

/** A refused line: its number (1-based), code and message. */
export interface LineRefusal {
  readonly line: number;
  readonly code: string;
  readonly message: string;
}

/** Receives, in line order, each event with its line number, and each refusal. */
export interface LineSink {
  event(e: CheckedEvent, line: number): void;
  refuse(r: LineRefusal): void;
}

const CARRIAGE_RETURN = 13;

/**
 * Reads the lines of `text` (whole lines; the last one may lack its "\n"),
 * numbering them from `firstLine`; returns how many there were. Blank lines
 * count but are skipped silently; "\r\n" endings are accepted.
 */
export function readLines(text: string, firstLine: number, limits: LineOptions, sink: LineSink): number {
  const segment = limits.inputFormat === 'segment';
  let line = firstLine;
  let pos = 0;
  const n = text.length;
  while (pos < n) {
    let next = text.indexOf('\n', pos);
    if (next < 0) next = n;
    let end = next;
    if (end > pos && text.charCodeAt(end - 1) === CARRIAGE_RETURN) end--;
    if (isBlank(text, pos, end)) {
      // counted, nothing else
    } else if (segment) {
      readSegmentLine(text.slice(pos, end), line, limits, sink);
    } else if (!scanLine(text, pos, end, line, limits, sink)) {
      readLine(text.slice(pos, end), line, limits, sink);
    }
    line++;
    pos = next + 1;
  }
  return line - firstLine;
}

/** The general path: JSON.parse, the mapping, the service's checks. Exported for tests. */
export function readLine(text: string, line: number, limits: ValidationLimits, sink: LineSink): void {
  const obj = objectOf(text, line, sink);
  if (obj === null) return;
  let input: EventInput;
  try {
    input = eventInputOf(obj);
  } catch (error) {
    if (!(error instanceof InexactId)) throw error;
    sink.refuse({ line, code: RejectCode.InvalidField, message: error.message });
    return;
  }
  check(input, line, limits, sink);
}

/**
 * A line holding a Segment message, mapped as the service's Segment
 * endpoint maps a message of a batch (the same names, user, id, value and
 * properties, and its limits: 32 KB a message, properties up to that unless
 * `limits` says less), then the service's checks. A file has no receipt
 * time: the message's `timestamp` (else `originalTimestamp`) is the event's
 * time as it stands (Segment's archives hold it already corrected for the
 * client's clock), and a message with neither is refused (INVALID_TIMESTAMP).
 */
export function readSegmentLine(text: string, line: number, limits: ValidationLimits, sink: LineSink): void {
  const obj = objectOf(text, line, sink);
  if (obj === null) return;
  const mapped = mapBatchedMessage(obj, undefined, Number.NaN);
  if (mapped.kind === 'refused') sink.refuse({ line, code: mapped.code, message: mapped.message });
  else if (mapped.kind === 'event') check(mapped.input, line, { ...limits, maxPropertiesBytes: limits.maxPropertiesBytes ?? MAX_MESSAGE_BYTES }, sink);
}

/** The line's JSON object, or null after refusing the line (INVALID_JSON). */
function objectOf(text: string, line: number, sink: LineSink): Record<string, unknown> | null {
  let obj: unknown;
  try {
    obj = JSON.parse(text);
  } catch (error) {
    sink.refuse({ line, code: INVALID_JSON, message: (error as Error).message });
    return null;
  }
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) {
    sink.refuse({ line, code: INVALID_JSON, message: 'the line is not a JSON object' });
    return null;
  }
  return obj as Record<string, unknown>;
}

function check(input: EventInput, line: number, limits: ValidationLimits, sink: LineSink): void {
  const outcome = checkEvent(input, limits);
  if (outcome.ok) sink.event(outcome.event, line);
  else sink.refuse({ line, code: outcome.code, message: outcome.message });
}

/** Nothing but spaces and tabs. */
function isBlank(text: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if (c !== 32 && c !== 9) return false;
  }
  return true;
}
