/**
 * JSON lines -> mapped fields: lines of the shape seen last straight from
 * their bytes (FlatObjectScanner.scanFields), else the byte scanner where it
 * applies and JSON.parse otherwise, then the shared field mapping (event-line.ts).
 */
import { FlatObjectScanner } from './byte-scanner.ts';
import type { LineFields } from './event-line.ts';
import { emptyLineFields, LineCode, LineRejection, mapFields, propertiesOf } from './event-line.ts';
import { FieldValues } from './field-values.ts';
import type { StringInterner } from './string-interner.ts';

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

/**
 * Reads lines into `fields`, one line at a time: each read overwrites it.
 * One per input: it keeps caches across lines.
 */
export class LineParser {
  /** The last line read, when the read returned null. */
  readonly fields: LineFields = emptyLineFields();
  private readonly vals = new FieldValues();
  private readonly scanner = new FlatObjectScanner();

  /** Reads the line in buf[start, end) (no line break): null, or why it is refused. Decodes it only when it must. */
  readBytes(buf: Buffer, start: number, end: number): LineRejection | null {
    if (this.scanner.scanFields(buf, start, end, this.fields)) return null;
    if (this.scanner.scan(buf, start, end, this.vals)) return mapFields(this.vals, this.fields);
    return this.read(buf.toString('utf8', start, end));
  }

  /** The interner behind LineFields' *Ref ids. */
  get strings(): StringInterner {
    return this.scanner.strings;
  }

  /** Reads one line's text (no line break): null, or why it is refused. */
  read(text: string): LineRejection | null {
    const obj = parseObject(text);
    if (obj instanceof LineRejection) return obj;
    return mapFields(this.vals.fillFrom(obj), this.fields);
  }

  /** Like read(), and returns the line's other keys, the event's `properties` (null when none; for ingest). */
  readWithProperties(text: string): { properties: Record<string, unknown> | null } | LineRejection {
    const obj = parseObject(text);
    if (obj instanceof LineRejection) return obj;
    const vals = this.vals.fillFrom(obj);
    const refused = mapFields(vals, this.fields);
    if (refused !== null) return refused;
    return { properties: propertiesOf(obj, vals) };
  }
}
