import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';

/** A GraphQL response as the HTTP endpoint returns it. */
export interface GqlResponse<T = Record<string, unknown>> {
  status: number;
  data?: T | null;
  errors?: Array<{ message: string; extensions?: { code?: string } & Record<string, unknown>; path?: unknown[] }>;
}

/** POSTs one operation over real HTTP. */
export async function gql<T = Record<string, any>>(
  url: string,
  query: string,
  variables: Record<string, unknown> = {},
  headers: Record<string, string> = {},
): Promise<GqlResponse<T>> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as Omit<GqlResponse<T>, 'status'>;
  return { status: response.status, ...body };
}

/** Like {@link gql} but throws on GraphQL errors and returns data. */
export async function gqlData<T = Record<string, any>>(
  url: string,
  query: string,
  variables: Record<string, unknown> = {},
  headers: Record<string, string> = {},
): Promise<T> {
  const result = await gql<T>(url, query, variables, headers);
  if (result.errors !== undefined && result.errors.length > 0) {
    throw new Error(`GraphQL errors: ${JSON.stringify(result.errors)}`);
  }
  return result.data as T;
}

/** A real graphql-ws client on the ws library; dispose it in afterEach/afterAll. */
export function wsClient(wsUrl: string, connectionParams: Record<string, unknown> = {}): Client {
  return createClient({ url: wsUrl, webSocketImpl: WebSocket, connectionParams, retryAttempts: 0, lazy: false });
}

/** A live subscription whose messages are collected for assertions. */
export interface Collector<T> {
  readonly items: T[];
  readonly errors: unknown[];
  /** Resolves once `count` items arrived (rejects after timeoutMs). */
  waitFor(count: number, timeoutMs?: number): Promise<T[]>;
  /** Resolves when the subscription completes or errors. */
  readonly ended: Promise<void>;
  stop(): void;
}

/** Subscribes and collects `data[field]` of every message. */
export function collect<T = Record<string, any>>(
  client: Client,
  query: string,
  variables: Record<string, unknown> = {},
): Collector<T> {
  const items: T[] = [];
  const errors: unknown[] = [];
  let wake: (() => void) | null = null;
  let finish!: () => void;
  const ended = new Promise<void>((resolve) => (finish = resolve));
  const stop = client.subscribe<Record<string, T>>(
    { query, variables },
    {
      next(message) {
        if (message.errors) errors.push(...message.errors);
        const data = message.data;
        if (data) for (const value of Object.values(data)) items.push(value);
        wake?.();
      },
      error(error) {
        errors.push(error);
        wake?.();
        finish();
      },
      complete() {
        wake?.();
        finish();
      },
    },
  );
  return {
    items,
    errors,
    ended,
    stop,
    async waitFor(count, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (items.length < count) {
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`timed out waiting for ${count} messages (got ${items.length}; errors ${JSON.stringify(errors)})`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, left);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        wake = null;
      }
      return items;
    },
  };
}
