/**
 * The service answers a batch with rejected[{index, code, message}], index
 * being the event's position in that batch; a batch remembers the line of
 * each of its events, so a rejection can be reported by line.
 */

/** One entry of IngestResult.rejected. */
export interface ServiceRejection {
  readonly index: number;
  readonly code: string;
  readonly message: string;
}

/** A rejection placed on its input line (lineNo null: the service named an index the batch does not have). */
export interface LineRejectionReport {
  readonly lineNo: number | null;
  readonly code: string;
  readonly message: string;
}

/**
 * Maps each rejection's index to the line it came from: `lines[i]` is the
 * line number of the batch's i-th event. Reports come out in line order.
 */
export function rejectedLines(lines: readonly number[], rejected: readonly ServiceRejection[]): LineRejectionReport[] {
  return rejected
    .map((r) => ({
      lineNo: Number.isInteger(r.index) && r.index >= 0 && r.index < lines.length ? (lines[r.index] as number) : null,
      code: r.code,
      message: r.message,
    }))
    .sort((a, b) => (a.lineNo ?? Number.POSITIVE_INFINITY) - (b.lineNo ?? Number.POSITIVE_INFINITY));
}
