/**
 * `sessions ingest`'s progress line (redrawn in place, only on a terminal)
 * and its closing summary.
 */
import type { Writable } from 'node:stream';
import type { IngestCounts } from './ingest.ts';
import { byCode, count, perSecond, seconds } from './report.ts';

/** How often the progress line is redrawn. */
const REDRAW_MS = 250;
/** Carriage return and "erase line": the next text replaces the progress line. */
const CLEAR_LINE = '\r\x1b[2K';

/** The progress line's text. */
export function progressText(c: IngestCounts, ms: number): string {
  return (
    `ingest: ${count(c.lines)} lines, ${count(perSecond(c.sent, ms))} events/s, ` +
    `accepted ${count(c.accepted)}, duplicates ${count(c.duplicates)}, rejected ${count(c.rejected)}`
  );
}

/** The closing summary (one line); `failed`: the run stopped on a fatal error. */
export function summaryText(c: IngestCounts, ms: number, failed: boolean): string {
  const rejected = c.rejected > 0 ? `, ${count(c.rejected)} rejected (${byCode(c.rejectedByCode)})` : ', 0 rejected';
  return (
    `ingest: ${failed ? 'stopped after' : 'done:'} ${count(c.lines)} lines, ${count(c.sent)} events sent in ${seconds(ms)} ` +
    `(${count(perSecond(c.sent, ms))} events/s): ${count(c.accepted)} accepted, ${count(c.duplicates)} duplicates${rejected}\n`
  );
}

/** Writes to stderr around a progress line that is redrawn every REDRAW_MS when stderr is a terminal. */
export class Progress {
  private readonly started = performance.now();
  private timer: NodeJS.Timeout | null = null;
  private shown = false;

  constructor(
    private readonly out: Writable & { readonly isTTY?: boolean },
    private readonly counts: IngestCounts,
  ) {
    if (out.isTTY === true) {
      this.timer = setInterval(() => this.draw(), REDRAW_MS);
      this.timer.unref();
    }
  }

  /** ms since the start. */
  elapsedMs(): number {
    return performance.now() - this.started;
  }

  /** Writes a line of its own (a report), above the progress line. */
  line(text: string): void {
    this.clear();
    this.out.write(text);
  }

  /** Stops redrawing and writes the summary. */
  finish(failed: boolean): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    this.line(summaryText(this.counts, this.elapsedMs(), failed));
  }

  private draw(): void {
    this.out.write(`${CLEAR_LINE}${progressText(this.counts, this.elapsedMs())}`);
    this.shown = true;
  }

  private clear(): void {
    if (!this.shown) return;
    this.out.write(CLEAR_LINE);
    this.shown = false;
  }
}
