import { createRequire } from 'node:module';
import type { ExecutionArgs, ExecutionResult } from 'graphql';

// graphql 16 ships a CommonJS build (`main`) and an ESM one (`module`) and no
// `exports` map: Node, graphql-ws and @graphql-tools load the CommonJS copy,
// while vitest resolves our own imports to the ESM copy, and a schema built by
// one copy fails the other's instanceof checks. Use the copy the schema and
// graphql-ws use.
const { createSourceEventStream, execute } = createRequire(import.meta.url)('graphql') as typeof import('graphql');

type Result = ExecutionResult | Promise<ExecutionResult>;

const DONE: IteratorResult<never> = { value: undefined, done: true };

/**
 * What makes two subscriptions' results for the same payload equal: the
 * operation (its text, name and variables) and `contextKey` of the context,
 * for resolvers whose output depends on who asks.
 */
function operationKey(args: ExecutionArgs, contextKey: string): string {
  const text = args.document.loc?.source.body ?? JSON.stringify(args.document);
  return `${contextKey}\u0000${args.operationName ?? ''}\u0000${JSON.stringify(args.variableValues ?? null)}\u0000${text}`;
}

/**
 * Maps a source stream of published payloads to execution results. return()
 * reaches the source at once (a generator parked in `for await` would see it
 * only at the next payload, leaving a quiet subscription on the bus).
 */
class ResultStream implements AsyncIterableIterator<ExecutionResult> {
  constructor(
    private readonly source: AsyncIterator<unknown>,
    private readonly resultOf: (payload: unknown) => Result,
  ) {}

  async next(): Promise<IteratorResult<ExecutionResult>> {
    try {
      const item = await this.source.next();
      if (item.done === true) return DONE;
      return { value: await this.resultOf(item.value), done: false };
    } catch (error) {
      // graphql-ws does not call return() on an iterator that threw: end the source here.
      await this.return().catch(() => undefined);
      throw error;
    }
  }

  async return(): Promise<IteratorResult<ExecutionResult>> {
    await this.source.return?.();
    return DONE;
  }

  async throw(error: unknown): Promise<IteratorResult<ExecutionResult>> {
    await this.return();
    throw error;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}

/** Options of {@link createSharedSubscribe}. */
export interface SharedSubscribeOptions {
  /**
   * The part of a subscription's context that field resolvers may depend on
   * (for instance the caller's roles); results are shared only between
   * subscriptions with the same key. Default: one key for all.
   */
  readonly contextKey?: (contextValue: unknown) => string;
}

/**
 * A drop-in for graphql's `subscribe` (graphql-ws's `subscribe` option) that
 * executes each published payload once per distinct operation rather than
 * once per subscriber. graphql's own `subscribe` runs `execute` for every
 * subscriber of every message: with 1,000 dashboards on sessionClosed that
 * was 1,000 identical executions of the Session selection per closure, about
 * half the server's CPU (graphql-js, DateTime formatting and the garbage they
 * leave). Here the first subscriber to see a payload executes it and the
 * others with the same operation reuse the result object (nobody mutates it:
 * graphql-ws only reads it to serialize).
 *
 * Payloads are keyed by identity (the bus hands the same object to every
 * subscriber) in a WeakMap, so results live as long as the payload does.
 */
export function createSharedSubscribe(options: SharedSubscribeOptions = {}) {
  const results = new WeakMap<object, Map<string, Result>>();
  return async function subscribe(args: ExecutionArgs): Promise<AsyncIterableIterator<ExecutionResult> | ExecutionResult> {
    const stream = await createSourceEventStream(args);
    if (!(Symbol.asyncIterator in stream)) return stream;
    const key = operationKey(args, options.contextKey?.(args.contextValue) ?? '');
    const run = (payload: unknown): Result => execute({ ...args, rootValue: payload });
    const source = stream[Symbol.asyncIterator]();
    return new ResultStream(source, (payload) => {
      if (typeof payload !== 'object' || payload === null) return run(payload);
      let byOperation = results.get(payload);
      if (byOperation === undefined) {
        byOperation = new Map();
        results.set(payload, byOperation);
      }
      let result = byOperation.get(key);
      if (result === undefined) {
        result = run(payload);
        byOperation.set(key, result);
      }
      return result;
    });
  };
}
