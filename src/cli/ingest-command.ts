/** `sessions ingest`: wires the input, the HTTP client with retries, reports and the exit code. */
import type { IngestCommand } from './args.ts';
import type { CliIo } from './cli-io.ts';
import { ExitCode } from './exit-code.ts';
import { ingestLines, emptyCounts, type Batch } from './ingest.ts';
import { postBatch } from './ingest-client.ts';
import { openLineInput, readLineChunks } from './line-reader.ts';
import { Progress } from './progress.ts';
import { lineReport, seconds } from './report.ts';
import { RetryError, withRetries } from './retry.ts';

/** Extra knobs for tests. */
export interface IngestRunOptions {
  /** Waits between retries (default: a real timer). */
  readonly sleep?: (ms: number) => Promise<void>;
}

const realSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs the command; resolves with the exit code. */
export async function runIngest(cmd: IngestCommand, io: CliIo, run: IngestRunOptions = {}): Promise<ExitCode> {
  const input = openLineInput(cmd.input, io.stdin);
  const counts = emptyCounts();
  const progress = new Progress(io.stderr, counts);
  const endpoint = { url: cmd.url, key: cmd.key };
  const send = (batch: Batch) =>
    withRetries(() => postBatch(endpoint, batch.events), {
      retries: cmd.retries,
      sleep: run.sleep ?? realSleep,
      onRetry: (reason, retry, delayMs) =>
        progress.line(
          `ingest: lines ${batch.lines[0]}-${batch.lines[batch.lines.length - 1]}: ${reason}; ` +
            `retry ${retry} of ${cmd.retries} in ${seconds(delayMs)}\n`,
        ),
    });
  const report = (lineNo: number | null, code: string, message: string): void =>
    progress.line(lineNo === null ? `${input.label}: ${code} ${message}\n` : lineReport(input.label, lineNo, code, message));
  try {
    await ingestLines(
      readLineChunks(input.stream),
      { batchSize: cmd.batchSize, concurrency: cmd.concurrency, inputFormat: cmd.inputFormat },
      { send, report },
      counts,
    );
  } catch (error) {
    progress.finish(true);
    if (error instanceof RetryError) {
      io.stderr.write(`sessions ingest: error: ${error.message}\n`);
      return ExitCode.Failure;
    }
    throw error;
  }
  progress.finish(false);
  return ExitCode.Ok;
}
