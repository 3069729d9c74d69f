// The dashboard's live connection: sessionStarted, sessionUpdated and
// sessionClosed over graphql-ws. graphql-ws would resubscribe after a
// reconnect with the variables of the first subscribe, so the reconnect is
// done here: each new connection subscribes sessionClosed with `after` = the
// last closeCursor seen, and the service replays the closures committed while
// the page was away (none missed, none repeated).
import { createClient, type Client } from 'graphql-ws';
import { currentDefinition } from '../shared/definition.ts';

/** The session fields the feed shows. */
export interface FeedSession {
  readonly id: string;
  readonly userId: string;
  readonly status: 'OPEN' | 'CLOSED';
  readonly startedAt: string;
  readonly endedAt: string;
  readonly eventCount: number;
  readonly durationSeconds: number;
  readonly topChannel: string | null;
  readonly totalValue: number;
  readonly closeReason: string | null;
  readonly closeCursor: string | null;
}

export type FeedKind = 'started' | 'updated' | 'closed';

/** One message of the feed, stamped with the wall-clock time it arrived. */
export interface FeedItem {
  readonly kind: FeedKind;
  readonly session: FeedSession;
  readonly receivedAt: number;
}

/** The connection as the page shows it. */
export type LinkState =
  | { readonly kind: 'connecting' }
  | { readonly kind: 'live' }
  | { readonly kind: 'reconnecting'; readonly inMs: number; readonly reason: string }
  | { readonly kind: 'refused' };

const FIELDS = 'id userId status startedAt endedAt eventCount durationSeconds topChannel totalValue closeReason closeCursor';
const OPERATIONS: Record<FeedKind, { field: string; query: string }> = {
  started: { field: 'sessionStarted', query: `subscription Started($definition: String) { sessionStarted(definition: $definition) { ${FIELDS} } }` },
  updated: { field: 'sessionUpdated', query: `subscription Updated($definition: String) { sessionUpdated(definition: $definition) { ${FIELDS} } }` },
  closed: {
    field: 'sessionClosed',
    query: `subscription Closed($definition: String, $after: String) { sessionClosed(definition: $definition, after: $after) { ${FIELDS} } }`,
  },
};
/** Close code of a connection the service refused (no valid key). */
const CLOSE_FORBIDDEN = 4403;
const RETRY_FIRST_MS = 500;
const RETRY_MAX_MS = 10_000;
const KEEP_ALIVE_MS = 10_000;

export interface LiveFeedOptions {
  readonly url: string;
  /** The Authorization value for the next connection (read at each connect). */
  readonly authorization: () => string | null;
  readonly onItem: (item: FeedItem) => void;
  readonly onState: (state: LinkState) => void;
}

/**
 * Closes a client. dispose() rejects with the CloseEvent when the connection
 * had failed before it was acknowledged: that failure is already handled
 * (`closed`), so it must not surface as an unhandled rejection.
 */
function disposeQuietly(client: Client): void {
  Promise.resolve(client.dispose()).catch(() => undefined);
}

/** Keeps one graphql-ws connection open, reconnecting with backoff. */
export class LiveFeed {
  private client: Client | null = null;
  private lastCloseCursor: string | null = null;
  private retryMs = RETRY_FIRST_MS;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private stopped = false;

  constructor(private readonly options: LiveFeedOptions) {}

  /** Connects (again, with the current key, when already connected). */
  start(): void {
    this.stopped = false;
    this.drop();
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    this.drop();
  }

  private drop(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    const client = this.client;
    this.client = null;
    if (client !== null) disposeQuietly(client);
  }

  private connect(): void {
    this.options.onState({ kind: 'connecting' });
    const auth = this.options.authorization();
    const client = createClient({
      url: this.options.url,
      connectionParams: auth === null ? {} : { authorization: auth },
      retryAttempts: 0,
      lazy: false,
      keepAlive: KEEP_ALIVE_MS,
      // A lost connection is handled (and shown) by `closed` below, not printed as an error.
      onNonLazyError: () => undefined,
      on: {
        connected: () => {
          this.retryMs = RETRY_FIRST_MS;
          this.options.onState({ kind: 'live' });
        },
        closed: (event) => this.lost(client, event),
      },
    });
    this.client = client;
    this.subscribe(client, 'started', {});
    this.subscribe(client, 'updated', {});
    this.subscribe(client, 'closed', { after: this.lastCloseCursor });
  }

  private subscribe(client: Client, kind: FeedKind, variables: Record<string, unknown>): void {
    const { field, query } = OPERATIONS[kind];
    client.subscribe<Record<string, FeedSession>>(
      { query, variables: { ...variables, definition: currentDefinition() } },
      {
        next: (message) => {
          const session = message.data?.[field];
          if (session === undefined || client !== this.client) return;
          if (kind === 'closed' && session.closeCursor !== null) this.lastCloseCursor = session.closeCursor;
          this.options.onItem({ kind, session, receivedAt: Date.now() });
        },
        // A lost connection errors every subscription too: `closed` above handles it once.
        error: () => undefined,
        complete: () => undefined,
      },
    );
  }

  private lost(client: Client, event: unknown): void {
    if (client !== this.client || this.stopped) return;
    this.client = null;
    disposeQuietly(client);
    const code = (event as { code?: number } | null)?.code;
    if (code === CLOSE_FORBIDDEN) {
      this.options.onState({ kind: 'refused' });
      return;
    }
    const inMs = this.retryMs;
    this.retryMs = Math.min(this.retryMs * 2, RETRY_MAX_MS);
    this.options.onState({ kind: 'reconnecting', inMs, reason: code === undefined ? 'connection lost' : `closed with ${code}` });
    this.timer = setTimeout(() => {
      this.timer = null;
      if (!this.stopped) this.connect();
    }, inMs);
  }
}
