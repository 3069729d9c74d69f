/** Retries with exponential backoff, for `sessions ingest` (safe: every event carries a stable eventId). */

/** First delay; each retry doubles it, up to MAX_DELAY_MS. */
export const BASE_DELAY_MS = 250;
export const MAX_DELAY_MS = 10_000;

/** What one attempt came to. */
export type Attempt<T> =
  | { readonly kind: 'done'; readonly value: T }
  /** afterMs: how long the server asked to wait (retryAfterMs, Retry-After), if it said. */
  | { readonly kind: 'retry'; readonly reason: string; readonly afterMs?: number }
  | { readonly kind: 'fatal'; readonly reason: string };

/** Thrown when attempts ran out or one was fatal; the message says why. */
export class RetryError extends Error {}

/** Longest wait a server's hint is followed for (a longer one is cut to this). */
export const MAX_HINT_MS = 60_000;

/**
 * The delay before retry number `retry` (0-based): 250 ms, 500 ms, 1 s ...
 * 10 s, with +-25% jitter so clients spread out; at least what the server
 * asked for (`afterMs`, up to MAX_HINT_MS), plus up to 25% so that clients
 * refused together do not all come back at the same moment.
 */
export function backoffMs(retry: number, random: () => number = Math.random, afterMs?: number): number {
  const base = Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** retry);
  const own = Math.round(base * (0.75 + random() * 0.5));
  if (afterMs === undefined || !(afterMs > 0)) return own;
  return Math.max(own, Math.round(Math.min(afterMs, MAX_HINT_MS) * (1 + random() * 0.25)));
}

export interface RetryOptions {
  /** Attempts after the first. */
  readonly retries: number;
  /** Waits ms (tests pass a fake). */
  readonly sleep: (ms: number) => Promise<void>;
  /** Told before each wait. */
  readonly onRetry: (reason: string, retry: number, delayMs: number) => void;
  readonly random?: () => number;
}

/** Runs `attempt` until it is done, fatal, or out of retries. Throws RetryError for the last two. */
export async function withRetries<T>(attempt: () => Promise<Attempt<T>>, opts: RetryOptions): Promise<T> {
  for (let retry = 0; ; retry++) {
    const outcome = await attempt();
    switch (outcome.kind) {
      case 'done':
        return outcome.value;
      case 'fatal':
        throw new RetryError(outcome.reason);
      case 'retry': {
        if (retry >= opts.retries) {
          throw new RetryError(`${outcome.reason}; gave up after ${opts.retries + 1} attempts`);
        }
        const delay = backoffMs(retry, opts.random, outcome.afterMs);
        opts.onRetry(outcome.reason, retry + 1, delay);
        await opts.sleep(delay);
        break;
      }
      default:
        throw new Error(`unreachable: ${JSON.stringify(outcome satisfies never)}`);
    }
  }
}
