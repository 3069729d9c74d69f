/**
 * `sessions sessionize`: the service's session rules run locally over a
 * JSON-lines stream, no server or database.
 *
 *   LineAdmission (parse, admit) -> EventRelease (reorder) -> OrderedSessionizer -> SessionWriter
 *
 * Memory follows the lateness window and the open sessions, not the file
 * (docs/cli.md, "Late events and memory").
 */
import type { SessionRules } from '../sessionizer/types.ts';
import { releaseToSessions } from './event-release.ts';
import { LineAdmission, type AdmissionCounts } from './line-admission.ts';
import { lineEventOf } from './line-event.ts';
import { RejectionCounter, type RejectionReporter } from './report.ts';
import type { SessionWriter } from './session-output.ts';

export interface SessionizeOptions extends SessionRules {
  /** How far (ms) behind the newest timestamp seen an event is still admitted; Infinity keeps everything. */
  readonly latenessMs: number;
}

export interface SessionizeSummary extends AdmissionCounts {
  rejected: number;
  rejectedByCode: Record<string, number>;
  sessions: number;
  /** Most events held for reordering at once. */
  peakHeldEvents: number;
}

/**
 * Sessionizes the lines (chunks of whole lines, as readLineChunks yields
 * them) in this thread and writes each session once it is final; sessions
 * still open at the end close with FLUSH. Bad lines go to `report`.
 */
export async function sessionizeLines(
  chunks: AsyncIterable<Buffer>,
  writer: SessionWriter,
  opts: SessionizeOptions,
  report: RejectionReporter,
): Promise<SessionizeSummary> {
  const { release, sessions } = releaseToSessions(opts, writer);
  const rejections = new RejectionCounter(report);
  const admission = new LineAdmission(opts.latenessMs, {
    admitted(fields, lineNo, watermark) {
      release.push(lineEventOf(fields, lineNo));
      release.advance(watermark);
    },
    reject: rejections.reject,
  });
  for await (const buf of chunks) {
    admission.lines(buf);
    await writer.flush();
  }
  release.end(admission.watermark());
  sessions.flush();
  await writer.end();
  return {
    ...admission.counts,
    rejected: rejections.rejected,
    rejectedByCode: rejections.byCode,
    sessions: writer.written,
    peakHeldEvents: release.peakHeld,
  };
}
