/**
 * The first stage of `sessions sessionize`: JSON lines in, admitted events
 * out in line order, with the watermark after each.
 *
 *   lines -> LineParser -> Admission (duplicates, LATE_EVENT) -> sink
 *
 * For large files it runs in the main thread with EventRelease, and a
 * worker thread (sessionize-worker.ts) runs the rest (OrderedSessionizer,
 * SessionWriter): sessionize-threaded.ts.
 */
import { Admission } from './admission.ts';
import type { LineFields, LineRejection } from './event-line.ts';
import { LineParser } from './json-line.ts';
import { isBlankBytes, lineTextEnd, nextLine } from './line-reader.ts';

/** Where admitted events and refused lines go. */
export interface AdmissionSink {
  /**
   * An admitted event: `fields` (a record reused for the next line: copy
   * what you keep) of line `lineNo`; every event still to come is at or after `watermark`.
   */
  admitted(fields: LineFields, lineNo: number, watermark: number): void;
  /** A refused line (lineNo 1-based). */
  reject(lineNo: number, rejection: LineRejection): void;
}

/** What the first stage counted. */
export interface AdmissionCounts {
  lines: number;
  /** Events admitted. */
  events: number;
  /** Lines whose eventId repeats an admitted one (ignored, as the service does). */
  duplicates: number;
  /** Largest lateness (ms) of a LATE_EVENT line: the --lateness that would have kept them; 0 when none. */
  largestLatenessMs: number;
}

export class LineAdmission {
  private readonly admission: Admission;
  private lineNo = 0;
  readonly counts: AdmissionCounts = { lines: 0, events: 0, duplicates: 0, largestLatenessMs: 0 };

  /** latenessMs: how far (ms) behind the newest timestamp an event is still admitted; Infinity keeps everything. */
  constructor(
    latenessMs: number,
    private readonly sink: AdmissionSink,
    /** Its own by default; pass one to share its interner (LineParser.strings). */
    private readonly parser = new LineParser(),
  ) {
    this.admission = new Admission(latenessMs);
  }

  /** The watermark now: every event still to come is at or after it. */
  watermark(): number {
    return this.admission.watermark();
  }

  /** Reads a chunk of whole lines (as readLineChunks yields them), the next lines of the input. */
  lines(buf: Buffer): void {
    const { parser, admission, sink, counts } = this;
    const fields = parser.fields;
    let lineNo = this.lineNo;
    for (let pos = 0; pos < buf.length; ) {
      const next = nextLine(buf, pos);
      const end = lineTextEnd(buf, pos, next);
      const start = pos;
      pos = next;
      lineNo++;
      if (isBlankBytes(buf, start, end)) continue;
      const refused = parser.readBytes(buf, start, end);
      if (refused !== null) {
        sink.reject(lineNo, refused);
        continue;
      }
      const verdict = admission.admit(fields.ts, fields.eventId);
      if (verdict === null) {
        counts.events++;
        sink.admitted(fields, lineNo, admission.watermark());
      } else if (verdict === 'duplicate') counts.duplicates++;
      else sink.reject(lineNo, verdict);
    }
    this.lineNo = lineNo;
    counts.lines = lineNo;
    counts.largestLatenessMs = admission.largestLatenessMs;
    admission.prune();
  }
}
