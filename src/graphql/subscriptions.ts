import type { SessionMerge, SessionTopic } from '../realtime/session-bus.ts';
import { WsCloseCode } from '../server/close-codes.ts';
import type { SessionView } from '../store/session-view.ts';
import { requireRole } from './auth.ts';
import type { RequestContext } from './context.ts';
import { ErrorCode, ServiceError } from './errors.ts';
import { definitionArg } from './definition-arg.ts';

/** Closures replayed per database round trip when resuming with `after`. */
const REPLAY_PAGE = 500;

/** Largest close cursor Postgres can hold (bigint). */
const MAX_CLOSE_CURSOR = 9_223_372_036_854_775_807n;

function parseCloseCursor(value: unknown): bigint | null {
  if (value === null || value === undefined) return null;
  const cursor = typeof value === 'string' && /^\d{1,19}$/.test(value) ? BigInt(value) : null;
  if (cursor === null || cursor > MAX_CLOSE_CURSOR) {
    throw new ServiceError(ErrorCode.InvalidCursor, '`after` must be a closeCursor returned by this API');
  }
  return cursor;
}

type Source = AsyncIterator<SessionView>;

const DONE: IteratorResult<SessionView> = { value: undefined, done: true };

/*
 * The wrapper below is a plain iterator, not an async generator: graphql-ws
 * calls return() when a client stops a subscription, and a generator parked
 * in `for await` sees that only at the next message, which leaves a quiet
 * subscription on the bus. Here return() reaches the bus at once.
 */

/**
 * sessionClosed with a cursor: closures committed after it come from Postgres
 * first, then live ones. The live subscription starts before the replay and
 * anything at or before the last replayed cursor is skipped, so nothing is
 * missed or repeated across the switch.
 */
class ReplayThenLive implements AsyncIterableIterator<SessionView> {
  private page: SessionView[] = [];
  /** True once a short page showed that Postgres has nothing more to replay. */
  private replayed = false;
  /** True once the replay's size was checked against REPLAY_MAX_CLOSURES. */
  private checked = false;
  private done = false;

  constructor(
    private readonly live: Source,
    private last: bigint,
    private readonly definition: string,
    private readonly userId: string | null,
    private readonly ctx: RequestContext,
  ) {}

  async next(): Promise<IteratorResult<SessionView>> {
    while (!this.done) {
      const head = this.page.shift();
      if (head !== undefined) {
        this.last = BigInt(head.closeCursor ?? '0');
        return { value: head, done: false };
      }
      if (this.replayed) break;
      try {
        // Checked here, not in subscribe: a refusal ends the operation like a failed page (a graphql-ws `error` message).
        if (!this.checked) await checkReplaySize(this.last, this.definition, this.userId, this.ctx);
        this.checked = true;
        this.page = await this.ctx.services.closures.closedAfter(this.last, this.definition, this.userId, REPLAY_PAGE);
      } catch (error) {
        // Nobody calls return() on an iterator that threw: leave the bus now.
        await this.return();
        throw error;
      }
      if (this.page.length < REPLAY_PAGE) this.replayed = true;
    }
    while (!this.done) {
      const result = await this.live.next();
      if (result.done === true) return DONE;
      const cursor = result.value.closeCursor;
      if (cursor !== null && BigInt(cursor) <= this.last) continue;
      return result;
    }
    return DONE;
  }

  async return(): Promise<IteratorResult<SessionView>> {
    this.done = true;
    this.page = [];
    await this.live.return?.();
    return DONE;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}

/**
 * The context of an operation over WebSocket (src/server/ws-server.ts): the
 * request context plus the connection its subscriptions deliver to.
 */
export interface SocketContext extends RequestContext {
  /**
   * The WebSocket connection, as the owner of its bus subscriptions: when it
   * is cut off as a slow consumer, all of them end together and what they
   * leave undelivered is counted as dropped.
   */
  readonly connection?: object;
}

/** Subscribes to the bus for one subscription field, cut off past WS_MAX_QUEUED_MESSAGES of backlog. */
function follow<T extends SessionTopic>(topic: T, definition: string, userId: string | null, ctx: SocketContext) {
  const maxQueue = ctx.services.config.wsMaxQueuedMessages;
  return ctx.services.bus.subscribe({
    topic,
    definition,
    userId,
    maxQueue,
    owner: ctx.connection ?? null,
    onOverflow: () => ctx.closeSocket?.(WsCloseCode.SlowConsumer, `consumer too slow: more than ${maxQueue} messages behind`),
  });
}

function userIdArg(args: Record<string, unknown>): string | null {
  return (args['userId'] as string | null | undefined) ?? null;
}

/**
 * Refuses a replay of more than REPLAY_MAX_CLOSURES closures before anything
 * is sent: its pages would be read and sent one after the other, but the
 * live closures buffered meanwhile grow with its length (up to
 * WS_MAX_QUEUED_MESSAGES, then the socket is cut), and one old cursor would
 * hold a connection of the query pool for as long as the whole history takes.
 */
async function checkReplaySize(after: bigint, definition: string, userId: string | null, ctx: RequestContext): Promise<void> {
  const cap = ctx.services.config.load.replayMaxClosures;
  const count = await ctx.services.closures.countAfter(after, definition, userId, cap + 1);
  if (count > cap) {
    throw new ServiceError(
      ErrorCode.CursorTooOld,
      `more than ${cap} sessions closed after this cursor (REPLAY_MAX_CLOSURES): read that history with the query sessions(status: CLOSED, from: ...) or the SQL view analytics.sessions, then subscribe to sessionClosed without \`after\` (or with the closeCursor of a recent closure)`,
      { maxClosures: cap },
    );
  }
}

/** The subscribe/resolve pair of sessionStarted, sessionUpdated or sessionClosed. */
export function liveSessions(topic: 'started' | 'updated' | 'closed') {
  return {
    subscribe(_root: unknown, args: Record<string, unknown>, ctx: SocketContext): AsyncIterable<SessionView> {
      requireRole(ctx.caller, 'read');
      const definition = definitionArg(args, ctx);
      const userId = userIdArg(args);
      const after = topic === 'closed' ? parseCloseCursor(args['after']) : null;
      const live = follow(topic, definition, userId, ctx);
      return after === null ? live : new ReplayThenLive(live, after, definition, userId, ctx);
    },
    resolve: (session: SessionView) => session,
  };
}

/** The subscribe/resolve pair of sessionMerged. */
export function liveMerges() {
  return {
    subscribe(_root: unknown, args: Record<string, unknown>, ctx: SocketContext): AsyncIterable<SessionMerge> {
      requireRole(ctx.caller, 'read');
      return follow('merged', definitionArg(args, ctx), userIdArg(args), ctx);
    },
    resolve: (merge: SessionMerge) => merge,
  };
}
