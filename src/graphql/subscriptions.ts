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

/**
 * sessionClosed with a cursor: closures committed after it come from Postgres
 * first, then live ones. The live subscription starts before the replay and
 * anything at or before the last replayed cursor is skipped, so nothing is
 * missed or repeated across the switch.
 */
async function* replayThenLive(
  live: AsyncIterableIterator<SessionView>,
  after: bigint,
  userId: string | null,
  ctx: RequestContext,
): AsyncGenerator<SessionView> {
  let last = after;
  try {
    for (;;) {
      const page = await ctx.services.closures.closedAfter(last, userId, REPLAY_PAGE);
      for (const session of page) {
        last = BigInt(session.closeCursor ?? '0');
        yield session;
      }
      if (page.length < REPLAY_PAGE) break;
    }
    for await (const session of live) {
      if (session.closeCursor !== null && BigInt(session.closeCursor) <= last) continue;
      yield session;
    }
  } finally {
    await live.return?.();
  }
}

/** Cuts off a consumer whose socket buffer grew past the limit (it stopped reading). */
async function* guardBuffer(source: AsyncIterable<SessionView>, ctx: RequestContext): AsyncGenerator<SessionView> {
  for await (const session of source) {
    if (ctx.bufferedAmount !== undefined && ctx.bufferedAmount() > ctx.services.config.wsMaxBufferedBytes) {
      ctx.closeSocket?.(WsCloseCode.SlowConsumer, 'consumer too slow: send buffer full');
      return;
    }
    yield session;
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
      return guardBuffer(after === null ? live : replayThenLive(live, after, userId, ctx), ctx);
    },
    resolve: (session: SessionView) => session,
  };
}
