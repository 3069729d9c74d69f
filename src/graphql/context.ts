import type { InstanceRow } from '../cluster/cluster-store.ts';
import type { Config } from '../config.ts';
import type { IngestPort } from '../ingest/port.ts';
import type { Rejection } from '../ingest/validate.ts';
import type { SessionBus } from '../realtime/session-bus.ts';
import type { DefinitionInfo } from '../store/definition-catalog.ts';
import type { SessionReader } from '../store/session-reader.ts';
import type { SessionView } from '../store/session-view.ts';
import type { StatsReader } from '../store/stats-reader.ts';
import type { Caller } from './auth.ts';

/** Result of one ingest mutation. */
export interface IngestOutcome {
  accepted: number;
  duplicates: number;
  rejected: Rejection[];
}

/** Replays closures committed after a cursor (sessionClosed with `after`). */
export interface ClosureLog {
  closedAfter(cursor: bigint, definition: string, userId: string | null, limit: number): Promise<SessionView[]>;
  /** Closures after `cursor`, counted up to `limit` (REPLAY_MAX_CLOSURES is checked with limit + 1). */
  countAfter(cursor: bigint, definition: string, userId: string | null, limit: number): Promise<number>;
}

/** The session definitions the API knows (names fixed at start, states read live). */
export interface DefinitionsView {
  has(name: string): boolean;
  list(): Promise<DefinitionInfo[]>;
}

/** The cluster as this instance sees it (admin `cluster` query). */
export interface ClusterView {
  state(): Promise<{ self: string; partitions: number; instances: InstanceRow[] }>;
}

/** What resolvers may use; built once in the composition root. */
export interface Services {
  readonly config: Config;
  readonly ingest: IngestPort;
  readonly cluster: ClusterView;
  readonly sessions: SessionReader;
  readonly stats: StatsReader;
  readonly closures: ClosureLog;
  readonly definitions: DefinitionsView;
  readonly bus: SessionBus;
  /** Server clock (ms since epoch); injectable for tests. */
  readonly now: () => number;
}

/** Per-request (or per-WebSocket-connection) context. */
export interface RequestContext {
  readonly services: Services;
  readonly caller: Caller;
  /** Closes the WebSocket this subscription runs on (slow consumers); absent over HTTP. */
  readonly closeSocket?: (code: number, reason: string) => void;
  /** Bytes queued on the WebSocket and not yet sent; absent over HTTP. */
  readonly bufferedAmount?: () => number;
}
