/**
 * The `sessions` command (bin/sessions.js runs it through tsx): dispatches to
 * `ingest` and `sessionize`, and turns what ends a run into an exit code
 * (docs/cli.md).
 */
import { pathToFileURL } from 'node:url';
import { parseCommand, UsageError, type Command } from './args.ts';
import { processIo, type CliIo } from './cli-io.ts';
import { ExitCode } from './exit-code.ts';

/** Runs one command line (the arguments after the program name); resolves with the exit code. */
export async function main(argv: readonly string[], io: CliIo = processIo()): Promise<ExitCode> {
  let command: Command;
  try {
    command = parseCommand(argv, io.env);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.stderr.write(`sessions: ${error.message}\nRun "${error.help}" for usage.\n`);
    return ExitCode.Usage;
  }
  try {
    switch (command.kind) {
      case 'help':
        io.stdout.write(command.text);
        return ExitCode.Ok;
      // Each command loads its own modules only: startup time is part of every run.
      case 'sessionize':
        return await (await import('./sessionize-command.ts')).runSessionize(command, io);
      case 'ingest':
        return await (await import('./ingest-command.ts')).runIngest(command, io);
      default:
        throw new Error(`unknown case ${JSON.stringify(command satisfies never)}`);
    }
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    // The reader of our output went away (`sessions sessionize f | head`): nothing left to tell it.
    if (e.code === 'EPIPE') return ExitCode.Ok;
    io.stderr.write(`sessions ${command.kind}: error: ${describe(e)}\n`);
    return ExitCode.Failure;
  }
}

/** A fatal error in one line: the system's words for I/O errors, the message otherwise. */
function describe(e: NodeJS.ErrnoException): string {
  if (e.code === 'ENOENT' && e.path !== undefined) return `cannot read ${e.path}: no such file`;
  if (e.code === 'EISDIR') return `cannot read ${e.path ?? 'the input'}: it is a directory`;
  if (e.code === 'EACCES' && e.path !== undefined) return `cannot read ${e.path}: permission denied`;
  return e.message;
}

/** Run directly (`tsx src/cli/main.ts ...`) or imported by bin/sessions.js with run(). */
export async function run(argv: readonly string[] = process.argv.slice(2)): Promise<void> {
  process.exitCode = await main(argv);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) await run();
