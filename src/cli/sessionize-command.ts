/** `sessions sessionize`: input and output streams, reports and exit code around the sessionizer. */
import { stat } from 'node:fs/promises';
import { readDefinitionsFile } from '../definitions/definitions.ts';
import { formatDurationMs } from '../duration.ts';
import type { SessionizeCommand } from './args.ts';
import type { CliIo } from './cli-io.ts';
import { ExitCode } from './exit-code.ts';
import { openLineInput, readLineChunks } from './line-reader.ts';
import { byCode, count, lineReport, perSecond, seconds } from './report.ts';
import { SessionWriter } from './session-output.ts';
import { sessionizeLines, type RefusalReporter, type SessionizeSummary } from './sessionize.ts';

/**
 * Files from this size on are parsed by two worker threads
 * (sessionize-threaded.ts); below it, starting them costs more than it
 * saves. SESSIONS_THREAD_MIN_BYTES overrides it (docs/cli.md, "How it works").
 */
const THREAD_MIN_BYTES = 16 * 1024 * 1024;

/** Runs the command: sessions to stdout, bad lines and the summary to stderr. */
export async function runSessionize(cmd: SessionizeCommand, io: CliIo): Promise<ExitCode> {
  // The rules given on the command line are the defaults of every field a definition leaves out, as the environment's are for the service.
  const definitions = cmd.definitionsFile === null ? null : readDefinitionsFile(cmd.definitionsFile, cmd.rules);
  const opts = { ...cmd.rules, latenessMs: cmd.latenessMs, maxFutureSkewMs: cmd.maxFutureSkewMs, nowMs: Date.now(), definitions, inputFormat: cmd.inputFormat };
  const label = cmd.input === '-' ? 'stdin' : cmd.input;
  const report: RefusalReporter = (r) => io.stderr.write(lineReport(label, r.line, r.code, r.message));
  const started = performance.now();
  let summary: SessionizeSummary;
  const threaded =
    cmd.input !== '-' && (await stat(cmd.input)).size >= threadMinBytes(io.env['SESSIONS_THREAD_MIN_BYTES']);
  if (threaded) {
    const { sessionizeFileThreaded } = await import('./sessionize-threaded.ts');
    summary = await sessionizeFileThreaded(cmd.input, io.stdout, cmd.format, opts, report);
  } else {
    const writer = new SessionWriter(io.stdout, cmd.format, true, definitions !== null);
    summary = await sessionizeLines(readLineChunks(openLineInput(cmd.input, io.stdin).stream), writer, opts, report);
  }
  io.stderr.write(summaryText(summary, performance.now() - started, cmd.latenessMs));
  return ExitCode.Ok;
}

function threadMinBytes(text: string | undefined): number {
  const n = text === undefined || text.trim() === '' ? Number.NaN : Number(text);
  return Number.isFinite(n) && n >= 0 ? n : THREAD_MIN_BYTES;
}

/** The closing lines on stderr. */
export function summaryText(s: SessionizeSummary, ms: number, latenessMs: number): string {
  let text =
    `sessionize: ${count(s.lines)} lines, ${count(s.events)} events, ${count(s.sessions)} sessions ` +
    `in ${seconds(ms)} (${count(perSecond(s.lines, ms))} lines/s)`;
  if (s.duplicates > 0) text += `; ${count(s.duplicates)} duplicates ignored`;
  if (s.rejected > 0) text += `; ${count(s.rejected)} lines rejected (${byCode(s.rejectedByCode)})`;
  text += '\n';
  if (s.largestLatenessMs > 0) {
    text +=
      `sessionize: lines up to ${formatDurationMs(s.largestLatenessMs)} behind the newest timestamp were refused ` +
      `(--lateness ${Number.isFinite(latenessMs) ? formatDurationMs(latenessMs) : 'unlimited'}); ` +
      `--lateness ${formatDurationMs(roundUpToSecond(s.largestLatenessMs))} would keep them\n`;
  }
  return text;
}

function roundUpToSecond(ms: number): number {
  return Math.ceil(ms / 1000) * 1000;
}
