import { makeExecutableSchema } from '@graphql-tools/schema';
import { parse, type ExecutionResult } from 'graphql';
import { describe, expect, it } from 'vitest';
import { createSharedSubscribe } from '../../src/realtime/shared-execution.ts';

/** A tiny bus: every subscriber's iterator gets the same payload objects. */
function createFeed() {
  const queues = new Set<{ items: unknown[]; wake: (() => void) | null }>();
  let returned = 0;
  return {
    get returned() {
      return returned;
    },
    publish(payload: unknown) {
      for (const q of queues) {
        q.items.push(payload);
        q.wake?.();
      }
    },
    iterator(): AsyncIterableIterator<unknown> {
      const q = { items: [] as unknown[], wake: null as (() => void) | null };
      queues.add(q);
      return {
        async next() {
          while (q.items.length === 0) await new Promise<void>((resolve) => (q.wake = resolve));
          return { value: q.items.shift(), done: false };
        },
        async return() {
          returned += 1;
          queues.delete(q);
          return { value: undefined, done: true };
        },
        [Symbol.asyncIterator]() {
          return this;
        },
      };
    },
  };
}

function setup() {
  const feed = createFeed();
  let executions = 0;
  const schema = makeExecutableSchema({
    typeDefs: `type Item { id: ID! twice: Int! }
      type Query { ok: Boolean }
      type Subscription { items(tag: String): Item! }`,
    resolvers: {
      Item: { twice: (item: { n: number }) => (executions++, item.n * 2) },
      Subscription: { items: { subscribe: () => feed.iterator(), resolve: (payload: unknown) => payload } },
    },
  });
  const subscribe = createSharedSubscribe({ contextKey: (ctx) => String((ctx as { role: string }).role) });
  const open = async (query: string, variableValues: Record<string, unknown> = {}, role = 'read') => {
    const stream = await subscribe({ schema, document: parse(query), variableValues, contextValue: { role } });
    if (!(Symbol.asyncIterator in stream)) throw new Error(`not a stream: ${JSON.stringify(stream)}`);
    return stream;
  };
  return { feed, open, executions: () => executions };
}

const next = async (stream: AsyncIterableIterator<ExecutionResult>) => (await stream.next()).value as ExecutionResult;

describe('createSharedSubscribe', () => {
  it('executes a payload once for every subscriber of the same operation', async () => {
    const { feed, open, executions } = setup();
    const query = 'subscription { items { id twice } }';
    const streams = await Promise.all([open(query), open(query), open(query)]);
    feed.publish({ id: 'a', n: 21 });
    const results = await Promise.all(streams.map(next));
    expect(results[0]).toEqual({ data: { items: { id: 'a', twice: 42 } } });
    expect(results[1]).toBe(results[0]);
    expect(results[2]).toBe(results[0]);
    expect(executions()).toBe(1);
  });

  it('keeps results apart per operation text, variables and context key', async () => {
    const { feed, open, executions } = setup();
    const streams = await Promise.all([
      open('subscription { items { id twice } }'),
      open('subscription { items { twice } }'),
      open('subscription ($t: String) { items(tag: $t) { id twice } }', { t: 'x' }),
      open('subscription ($t: String) { items(tag: $t) { id twice } }', { t: 'y' }),
      open('subscription { items { id twice } }', {}, 'admin'),
    ]);
    feed.publish({ id: 'b', n: 1 });
    const results = await Promise.all(streams.map(next));
    expect(new Set(results).size).toBe(5);
    expect(results[1]).toEqual({ data: { items: { twice: 2 } } });
    expect(executions()).toBe(5);
  });

  it('hands return() to the source at once, without waiting for a payload', async () => {
    const { feed, open } = setup();
    const stream = await open('subscription { items { id } }');
    void stream.next(); // parked on the source, as a quiet subscription is
    await stream.return?.();
    expect(feed.returned).toBe(1);
  });
});
