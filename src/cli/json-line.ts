/**
 * JSON lines -> events: the fast byte scanner where it applies, JSON.parse
 * otherwise, then the shared field mapping (event-line.ts).
 */
import type { SessionEvent } from '../sessionizer/index.ts';
import { FlatObjectScanner } from './byte-scanner.ts';
import type { EventIds } from './event-id.ts';
import type { FieldValues } from './event-line.ts';
import {
  emptyFieldValues,
  eventOf,
  fieldValuesOf,
  hasExplicitId,
  LineCode,
  LineRejection,
  propertiesOf,
} from './event-line.ts';

/** JSON.parse of a line that must hold an object. */
export function parseObject(text: string): Record<string, unknown> | LineRejection {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    return new LineRejection(LineCode.InvalidJson, `not JSON (${(error as Error).message})`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    return new LineRejection(LineCode.InvalidJson, 'not a JSON object');
  }
  return parsed as Record<string, unknown>;
}

/** The events of one input's lines. Keeps caches across lines: one per input. */
export class LineParser {
  private readonly vals: FieldValues = emptyFieldValues();
  private readonly scanner = new FlatObjectScanner();
  /** Whether the last line given to event() or eventFromBytes() had its own eventId (else it was derived). */
  hadEventId = false;

  constructor(readonly ids: EventIds) {}

  /** The event of one line (text without its line break; lineNo 1-based), or why it is refused. */
  event(text: string, lineNo: number): SessionEvent | LineRejection {
    const obj = parseObject(text);
    if (obj instanceof LineRejection) return obj;
    return this.mapped(fieldValuesOf(obj, this.vals), lineNo, text);
  }

  /** Like event() for the line in buf[start, end) (no line break), without decoding it when it can. */
  eventFromBytes(buf: Buffer, start: number, end: number, lineNo: number): SessionEvent | LineRejection {
    if (!this.scanner.scan(buf, start, end, this.vals)) return this.event(buf.toString('utf8', start, end), lineNo);
    return this.mapped(this.vals, lineNo, this.ids.needsText ? buf.toString('utf8', start, end) : undefined);
  }

  /** Like event(), plus the line's other keys as `properties` (for ingest). */
  eventWithProperties(
    text: string,
    lineNo: number,
  ): { event: SessionEvent; properties: Record<string, unknown> | null } | LineRejection {
    const obj = parseObject(text);
    if (obj instanceof LineRejection) return obj;
    const vals = fieldValuesOf(obj, this.vals);
    const event = this.mapped(vals, lineNo, text);
    if (event instanceof LineRejection) return event;
    return { event, properties: propertiesOf(obj, vals) };
  }

  private mapped(vals: FieldValues, lineNo: number, text: string | undefined): SessionEvent | LineRejection {
    this.hadEventId = hasExplicitId(vals);
    return eventOf(vals, this.ids, lineNo, text);
  }
}
