import type { SessionTopic } from '../realtime/session-bus.ts';
import { WsCloseCode } from '../server/close-codes.ts';
import type { SessionView } from '../store/session-view.ts';
import { requireRole } from './auth.ts';
import type { RequestContext } from './context.ts';
import { ErrorCode, ServiceError } from './errors.ts';

/** Closures replayed per database round trip when resuming with `after`. */
const REPLAY_PAGE = 500;

function parseCloseCursor(value: unknown): bigint | null {
  if (value === null || value === undefined) return null;
  if (typeof value !== 'string' || !/^\d{1,19}$/.test(value)) {
    throw new ServiceError(ErrorCode.InvalidCursor, '`after` must be a closeCursor returned by this API');
  }
  return BigInt(value);
}

type Source = AsyncIterator<SessionView>;

const DONE: IteratorResult<SessionView> = { value: undefined, done: true };

/*
 * The two wrappers below are plain iterators, not async generators: graphql-ws
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
  private done = false;

  constructor(
    private readonly live: Source,
    private last: bigint,
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
      this.page = await this.ctx.services.closures.closedAfter(this.last, this.userId, REPLAY_PAGE);
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

/** Cuts off a consumer whose socket buffer grew past the limit (it stopped reading). */
class BufferGuard implements AsyncIterableIterator<SessionView> {
  constructor(
    private readonly source: Source,
    private readonly ctx: RequestContext,
  ) {}

  async next(): Promise<IteratorResult<SessionView>> {
    const result = await this.source.next();
    if (result.done === true) return DONE;
    const { bufferedAmount, closeSocket } = this.ctx;
    if (bufferedAmount !== undefined && bufferedAmount() > this.ctx.services.config.wsMaxBufferedBytes) {
      closeSocket?.(WsCloseCode.SlowConsumer, 'consumer too slow: send buffer full');
      await this.return();
      return DONE;
    }
    return result;
  }

  async return(): Promise<IteratorResult<SessionView>> {
    await this.source.return?.();
    return DONE;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}

/** The subscribe/resolve pair of one Subscription field. */
export function liveSessions(topic: SessionTopic) {
  return {
    subscribe(_root: unknown, args: Record<string, unknown>, ctx: RequestContext): AsyncIterable<SessionView> {
      requireRole(ctx.caller, 'read');
      const userId = (args['userId'] as string | null | undefined) ?? null;
      const after = topic === 'closed' ? parseCloseCursor(args['after']) : null;
      const live = ctx.services.bus.subscribe({
        topic,
        userId,
        onOverflow: () => ctx.closeSocket?.(WsCloseCode.SlowConsumer, 'consumer too slow: message queue full'),
      });
      return new BufferGuard(after === null ? live : new ReplayThenLive(live, after, userId, ctx), ctx);
    },
    resolve: (session: SessionView) => session,
  };
}
