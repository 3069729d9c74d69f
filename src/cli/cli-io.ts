/** The process edges a command uses, passed in so tests can run commands in-process. */
import type { Readable, Writable } from 'node:stream';
import type { Env } from './args.ts';

export interface CliIo {
  readonly stdin: Readable;
  readonly stdout: Writable;
  /** isTTY: whether a progress line may be redrawn. */
  readonly stderr: Writable & { readonly isTTY?: boolean };
  readonly env: Env;
}

/** The real process streams and environment. */
export function processIo(): CliIo {
  return { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env };
}
