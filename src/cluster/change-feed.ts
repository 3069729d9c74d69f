import pg from 'pg';
import type { PrismaClient } from '../generated/prisma/client.ts';
import type { Logger } from '../logger.ts';
import type { ChangePublisher, SessionAnnouncement } from '../realtime/change-publisher.ts';
import type { Db } from '../store/event-store.ts';
import { pgArray } from '../store/pg-array.ts';
import type { CommittedChange } from '../store/pg-session-store.ts';
import { loadClosedAfter, loadLastCloseSeq, loadViewsByIds } from '../store/session-store.ts';
import type { SessionView } from '../store/session-view.ts';
import { CLUSTER_CHANNEL } from './cluster-store.ts';

/** Channel of session changes between instances. */
export const CHANGES_CHANNEL = 'sessions_changes';

/** NOTIFY payloads must stay under 8000 bytes; ids are ASCII. */
const MAX_PAYLOAD = 7_000;
/** Closures read per query while catching up. */
const CATCH_UP_PAGE = 1_000;
/** Catch-up also runs this often: a notification lost while the listener reconnected costs at most this delay. */
const POLL_MS = 1_000;

/**
 * One NOTIFY of a commit: who committed (i), whether it closed sessions (c:
 * read them by cursor), and the ids of sessions started (s) and updated (u),
 * and merges (r: [mergedId, intoId, userId]).
 */
interface ChangeNotice {
  readonly i: string;
  readonly c?: 1;
  readonly s?: string[];
  readonly u?: string[];
  readonly r?: Array<[string, string, string]>;
}

export interface ClusterFeedOptions {
  readonly databaseUrl: string;
  /** application_name of the listener connection: while it is connected, the others know this process lives. */
  readonly backendName: string;
  readonly prisma: PrismaClient;
  readonly publisher: ChangePublisher;
  /** Whether anyone here subscribes to a topic: another instance's changes are read only then. */
  readonly listens: (topic: 'started' | 'updated' | 'merged') => boolean;
  /** The gap of each definition (a session's closesAt). */
  readonly gapOf: (definition: string) => number;
  readonly logger: Logger;
  /** This instance's id (changes from itself are announced by its own writer). */
  readonly self: () => string;
  /** True once another instance was seen: closures then go out in cursor order through the store. */
  readonly peers: () => boolean;
  /** Another instance joined, left, or handed partitions over. */
  readonly onClusterChange: () => void;
}

/**
 * Session changes across instances over Postgres LISTEN/NOTIFY
 * (DESIGN.md, Cluster). Each commit sends small notices (ids, never
 * sessions); listeners read the sessions themselves. Closures are read by
 * close cursor, in cursor order, so every instance publishes them in the one
 * order in which they committed (session-writes.ts serialises cursors with
 * commits): a subscriber can resume anywhere with its last cursor.
 */
export class ClusterFeed {
  private client: pg.Client | null = null;
  private cursor = 0n;
  private catchingUp: Promise<void> | null = null;
  private again = false;
  private stopped = false;
  private poll: NodeJS.Timeout | null = null;
  private ordered = false;

  constructor(private readonly options: ClusterFeedOptions) {}

  /** Starts listening; closures already committed are not replayed (sessionClosed's `after` does that). */
  async start(): Promise<void> {
    this.cursor = await loadLastCloseSeq(this.options.prisma);
    await this.connect();
    this.poll = setInterval(() => {
      if (this.ordering()) this.catchUp();
    }, POLL_MS);
    this.poll.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.poll !== null) clearInterval(this.poll);
    await this.catchingUp;
    await this.client?.end().catch(() => undefined);
    this.client = null;
  }

  /** Whether closures go out through the store in cursor order (several instances) rather than from the writer. */
  ordering(): boolean {
    if (!this.ordered && this.options.peers()) this.ordered = true;
    return this.ordered;
  }

  /**
   * What this instance's writer announces itself after a commit: everything
   * while it is alone, all but closures once there are several (those come
   * in cursor order from the store).
   */
  local(committed: readonly CommittedChange[]): readonly CommittedChange[] {
    const saved = committed.filter((c) => c.announce);
    if (!this.ordering()) {
      for (const { closeSeq } of saved) if (closeSeq !== null && BigInt(closeSeq) > this.cursor) this.cursor = BigInt(closeSeq);
      return saved;
    }
    return saved.filter(({ change }) => change.kind !== 'closed');
  }

  /** The commit's notices, sent inside its transaction (delivered at COMMIT, dropped on rollback). */
  async beforeCommit(tx: Db, saved: readonly CommittedChange[]): Promise<void> {
    const payloads = this.payloads(saved);
    if (payloads.length === 0) return;
    await tx.$queryRawUnsafe(`SELECT count(pg_notify('${CHANGES_CHANNEL}', p))::int AS sent FROM unnest($1::text[]) AS p`, pgArray(payloads));
  }

  private payloads(committed: readonly CommittedChange[]): string[] {
    // Changes of a definition being rebuilt are not announced anywhere (its closures are not in the API's builds either).
    const saved = committed.filter((c) => c.announce);
    const closed = saved.some(({ change }) => change.kind === 'closed');
    if (!this.ordering()) return closed && this.options.peers() ? [JSON.stringify({ i: this.options.self(), c: 1 })] : [];
    const out: string[] = [];
    let notice: { i: string; c?: 1; s: string[]; u: string[]; r: Array<[string, string, string]> } = { i: this.options.self(), s: [], u: [], r: [] };
    if (closed) notice.c = 1;
    let size = 64;
    const flush = (): void => {
      out.push(JSON.stringify(notice));
      notice = { i: this.options.self(), s: [], u: [], r: [] };
      size = 64;
    };
    for (const { change } of saved) {
      const id = change.session.id;
      if (change.kind === 'started') notice.s.push(id);
      else if (change.kind === 'updated') notice.u.push(id);
      else if (change.kind === 'removed') notice.r.push([id, change.mergedInto ?? '', change.session.userId]);
      else continue;
      size += change.kind === 'removed' ? 90 + change.session.userId.length * 2 : 40;
      if (size > MAX_PAYLOAD) flush();
    }
    if (notice.s.length + notice.u.length + notice.r.length > 0 || notice.c === 1) flush();
    return out;
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({ connectionString: this.options.databaseUrl, application_name: this.options.backendName });
    client.on('error', (error) => {
      this.options.logger.warn({ err: error }, 'cluster feed: listener connection failed; reconnecting');
      void this.reconnect(client);
    });
    client.on('end', () => void this.reconnect(client));
    client.on('notification', (message) => this.onNotice(message.channel, message.payload ?? ''));
    await client.connect();
    await client.query(`LISTEN ${CHANGES_CHANNEL}`);
    await client.query(`LISTEN ${CLUSTER_CHANNEL}`);
    this.client = client;
  }

  /** Listen again, then catch up from the cursor: what was sent meanwhile is read from the store. */
  private async reconnect(failed: pg.Client): Promise<void> {
    if (this.stopped || this.client !== failed) return;
    this.client = null;
    await failed.end().catch(() => undefined);
    for (let attempt = 0; !this.stopped; attempt++) {
      try {
        await this.connect();
        this.options.logger.info('cluster feed: listening again');
        this.options.onClusterChange();
        if (this.ordering()) this.catchUp();
        return;
      } catch (error) {
        this.options.logger.warn({ err: error, attempt }, 'cluster feed: reconnect failed');
        await new Promise((resolve) => setTimeout(resolve, Math.min(5_000, 100 * 2 ** Math.min(attempt, 6))));
      }
    }
  }

  private onNotice(channel: string, payload: string): void {
    if (channel === CLUSTER_CHANNEL) {
      this.options.onClusterChange();
      return;
    }
    let notice: ChangeNotice;
    try {
      notice = JSON.parse(payload) as ChangeNotice;
    } catch {
      return;
    }
    if (notice.i !== this.options.self()) {
      this.ordered = true;
      void this.announceRemote(notice).catch((error: unknown) => this.options.logger.warn({ err: error }, 'cluster feed: reading changes failed'));
    }
    if (notice.c === 1 && this.ordering()) this.catchUp();
  }

  private async announceRemote(received: ChangeNotice): Promise<void> {
    const { listens } = this.options;
    const notice: ChangeNotice = {
      i: received.i,
      ...(received.s !== undefined && listens('started') ? { s: received.s } : {}),
      ...(received.u !== undefined && listens('updated') ? { u: received.u } : {}),
      ...(received.r !== undefined && listens('merged') ? { r: received.r } : {}),
    };
    const ids = [...(notice.s ?? []), ...(notice.u ?? []), ...(notice.r ?? []).map(([, into]) => into).filter((id) => id !== '')];
    if (ids.length === 0) return;
    const views = new Map((await loadViewsByIds(this.options.prisma, ids, this.options.gapOf)).map((v) => [v.id, v]));
    const out: SessionAnnouncement[] = [];
    const add = (kind: 'started' | 'updated', id: string): void => {
      const view = views.get(id);
      if (view !== undefined) out.push({ kind, sessionId: id, userId: view.userId, definition: view.definition, view: () => view as SessionView });
    };
    for (const id of notice.s ?? []) add('started', id);
    for (const id of notice.u ?? []) add('updated', id);
    for (const [merged, into, userId] of notice.r ?? []) {
      add('updated', into);
      const definition = views.get(into)?.definition;
      if (definition !== undefined) out.push({ kind: 'removed', sessionId: merged, userId, definition, mergedInto: into });
    }
    this.options.publisher.announce(out);
  }

  /** Publishes closures committed after the cursor, in cursor order; one catch-up at a time. */
  private catchUp(): void {
    if (this.catchingUp !== null) {
      this.again = true;
      return;
    }
    this.catchingUp = (async () => {
      do {
        this.again = false;
        for (;;) {
          const page = await loadClosedAfter(this.options.prisma, this.cursor, null, null, CATCH_UP_PAGE, this.options.gapOf);
          if (page.length === 0) break;
          const last = page[page.length - 1] as SessionView;
          this.cursor = BigInt(last.closeCursor ?? this.cursor.toString());
          this.options.publisher.announce(
            page.map((view) => ({ kind: 'closed', sessionId: view.id, userId: view.userId, definition: view.definition, view: () => view })),
          );
          if (page.length < CATCH_UP_PAGE) break;
        }
      } while (this.again && !this.stopped);
    })()
      .catch((error: unknown) => this.options.logger.warn({ err: error }, 'cluster feed: catching up closures failed; retrying at the next poll'))
      .finally(() => {
        this.catchingUp = null;
      });
  }
}
