/** Retries with exponential backoff, for `sessions ingest` (safe: every event carries a stable eventId). */

/** First delay; each retry doubles it, up to MAX_DELAY_MS. */
export const BASE_DELAY_MS = 250;
export const MAX_DELAY_MS = 10_000;

/** What one attempt came to. */
export type Attempt<T> =
  | { readonly kind: 'done'; readonly value: T }
  | { readonly kind: 'retry'; readonly reason: string }
  | { readonly kind: 'fatal'; readonly reason: string };

/** Thrown when attempts ran out or one was fatal; the message says why. */
export class RetryError extends Error {}

/** The delay before retry number `retry` (0-based): 250 ms, 500 ms, 1 s ... 10 s, with +-25% jitter so clients spread out. */
export function backoffMs(retry: number, random: () => number = Math.random): number {
  const base = Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** retry);
  return Math.round(base * (0.75 + random() * 0.5));
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
        const delay = backoffMs(retry, opts.random);
        opts.onRetry(outcome.reason, retry + 1, delay);
        await opts.sleep(delay);
        break;
      }
      default:
        throw new Error(`unreachable: ${JSON.stringify(outcome satisfies never)}`);
    }
  }
}
