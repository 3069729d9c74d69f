/** Help texts of the `sessions` command (docs/cli.md has the full story). */

export const MAIN_USAGE = `usage: sessions <command> [options]

commands:
  ingest FILE.jsonl|-      send JSON-lines events to a running service
  sessionize FILE.jsonl|-  cut JSON-lines events into sessions locally (no server)

Run "sessions <command> --help" for a command's options. Docs: docs/cli.md.
`;

export const INGEST_USAGE = `usage: sessions ingest FILE.jsonl|- [options]

Streams events from a JSON-lines file ("-": stdin) into a running service
through the ingestEvents mutation, in batches; prints bad lines (with their
line number and code) and a summary on stderr.

options:
  --url URL          GraphQL endpoint (default: $SESSIONS_URL or http://localhost:4000/graphql)
  --key KEY          bearer key with the ingest role (default: $SESSIONS_API_KEY)
  --batch N          events per mutation (default 1000)
  --concurrency C    mutations in flight at once (default 4)
  --retries N        attempts after a network error or SERVICE_UNAVAILABLE (default 8)
  --input-format events|segment
                     what a line holds: an event by the field table of docs/cli.md
                     (default), or a Segment message, mapped as the service's Segment
                     endpoint maps it (track, page, screen; identify, group and alias
                     are skipped)
  -h, --help         this help

exit codes: 0 everything was sent (rejected lines are reported, not fatal),
1 fatal error (service unreachable, key refused, unreadable input), 2 usage error.
`;

export const SESSIONIZE_USAGE = `usage: sessions sessionize FILE.jsonl|- [options]

Applies the service's session rules to a JSON-lines file ("-": stdin) locally,
without a server or database, and writes the sessions to stdout. Bad lines
(with their line number and code) and a summary go to stderr.

options:
  --gap DURATION               inactivity gap (default 30m)
  --max-duration DURATION      longest session (default 24h)
  --lateness DURATION|unlimited
                               how far behind the newest timestamp a line may be;
                               later ones are reported as LATE_EVENT (default 5m)
  --format jsonl|json|csv      output format (default jsonl)
  --input-format events|segment
                               what a line holds: an event by the field table of
                               docs/cli.md (default), or a Segment message, mapped as
                               the service's Segment endpoint maps it (track, page,
                               screen; identify, group and alias are skipped)
  --conversion-events A,B      event names that convert (default purchase)
  --engaged-min-duration DURATION  (default 10s)
  --engaged-min-events N       (default 2)
  --max-future-skew DURATION   refuse timestamps this far ahead of the clock (default 5m)
  --definitions FILE           cut sessions per definition of a SESSION_DEFINITIONS file
                               (docs/definitions.md; the options above are the defaults
                               of its fields); each session is tagged with its definition
  -h, --help                   this help

Durations: 500ms, 30s, 15m, 24h, 7d, or a plain number of seconds.
exit codes: 0 done (bad lines are reported, not fatal), 1 fatal error, 2 usage error.
`;
