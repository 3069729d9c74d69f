// GraphQL over HTTP for the dashboard: same origin, JSON, the read key (when
// one was given) as a bearer header.
import { GRAPHQL_PATH } from '../shared/endpoint.ts';
import { bearer } from '../shared/read-key.ts';

/** A GraphQL error as the service sends it (a code in extensions). */
export interface GraphqlErrorBody {
  readonly message: string;
  readonly extensions?: { readonly code?: string };
}

/** An answer with errors; `code` is the first error's code (UNAUTHENTICATED, FORBIDDEN, ...). */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    message: string,
    readonly code: string | null,
  ) {
    super(message);
  }

  /** True when the service wants a (different) key. */
  get needsKey(): boolean {
    return this.code === 'UNAUTHENTICATED' || this.code === 'FORBIDDEN';
  }
}

/** Runs queries against the page's own service. */
export class Api {
  constructor(private key: string | null) {}

  /** The key requests carry now (null: none). */
  get currentKey(): string | null {
    return this.key;
  }

  setKey(key: string | null): void {
    this.key = key;
  }

  /** Runs one operation; throws ApiError for GraphQL errors and for HTTP failures. */
  async query<T>(query: string, variables: Record<string, unknown> = {}): Promise<T> {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (this.key !== null) headers['authorization'] = bearer(this.key);
    let response: Response;
    try {
      response = await fetch(GRAPHQL_PATH, { method: 'POST', headers, body: JSON.stringify({ query, variables }) });
    } catch (error) {
      throw new ApiError(`the service did not answer (${error instanceof Error ? error.message : String(error)})`, 'NETWORK');
    }
    const body = (await response.json().catch(() => null)) as { data?: T; errors?: GraphqlErrorBody[] } | null;
    const first = body?.errors?.[0];
    if (first !== undefined) throw new ApiError(first.message, first.extensions?.code ?? null);
    if (body === null || body.data === undefined) throw new ApiError(`the service answered HTTP ${response.status} without data`, null);
    return body.data;
  }
}
