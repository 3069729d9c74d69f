/** Exit codes of the `sessions` command (docs/cli.md, "Exit codes"). */
export enum ExitCode {
  /** Done. Bad lines may have been reported: they are not failures. */
  Ok = 0,
  /** A fatal error: unreadable input, the service unreachable or refusing the key. */
  Failure = 1,
  /** The command line is wrong. */
  Usage = 2,
}
