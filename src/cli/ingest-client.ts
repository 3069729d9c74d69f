/**
 * One ingestEvents mutation over HTTP, and what its answer means for the
 * caller: done, worth retrying, or fatal. The events go in `variables` (they
 * do not count against the service's query token limit).
 */
import type { Attempt } from './retry.ts';
import type { ServiceRejection } from './rejections.ts';

/** EventInput as schema.graphql defines it (absent optional fields are left out). */
export interface EventInput {
  eventId?: string;
  userId: string;
  name: string;
  /** RFC 3339 with an offset. */
  timestamp: string;
  channelId?: string;
  value?: number;
  properties?: Record<string, unknown>;
}

/** IngestResult of one batch. */
export interface IngestAnswer {
  readonly accepted: number;
  readonly duplicates: number;
  readonly rejected: readonly ServiceRejection[];
}

export const INGEST_MUTATION = `mutation IngestEvents($events: [EventInput!]!) {
  ingestEvents(events: $events) { accepted duplicates rejected { index code message } }
}`;

/** How long one request may take before it counts as a network error (and is retried). */
export const REQUEST_TIMEOUT_MS = 120_000;

/** Error codes worth retrying: nothing of the request was saved (README, "Operations"). */
const RETRY_CODES = new Set(['SERVICE_UNAVAILABLE', 'SHUTTING_DOWN']);
/** HTTP statuses of proxies and overloaded servers: worth retrying. */
const RETRY_STATUSES = new Set([429, 502, 503, 504]);
const HINTS: Readonly<Record<string, string>> = {
  UNAUTHENTICATED: 'the service refused the key (pass --key, or set SESSIONS_API_KEY, with an ingest key)',
  FORBIDDEN: 'the key lacks the ingest role',
  BATCH_TOO_LARGE: 'lower --batch to the service MAX_BATCH_SIZE or below',
  PAYLOAD_TOO_LARGE: 'lower --batch: the request body is over the service BODY_LIMIT_BYTES',
};

interface GraphQLBody {
  data?: { ingestEvents?: IngestAnswer | null } | null;
  errors?: Array<{ message?: string; extensions?: { code?: string; retryAfterMs?: unknown } }>;
}

/** Where and how to send. */
export interface Endpoint {
  readonly url: string;
  readonly key: string | null;
}

/** Sends one batch once. Never throws: network failures come back as 'retry'. */
export async function postBatch(endpoint: Endpoint, events: readonly EventInput[]): Promise<Attempt<IngestAnswer>> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (endpoint.key !== null) headers['authorization'] = `Bearer ${endpoint.key}`;
  let response: Response;
  let text: string;
  try {
    response = await fetch(endpoint.url, {
      method: 'POST',
      headers,
      body: JSON.stringify({ query: INGEST_MUTATION, variables: { events } }),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    text = await response.text();
  } catch (error) {
    return { kind: 'retry', reason: `cannot reach ${endpoint.url}: ${networkReason(error)}` };
  }
  return interpret(response.status, text, response.headers.get('retry-after'));
}

/**
 * What an HTTP answer to the mutation means (exported for tests).
 * retryAfter: the Retry-After header (seconds), if any.
 */
export function interpret(status: number, text: string, retryAfter: string | null = null): Attempt<IngestAnswer> {
  const header = retryAfter !== null && /^\s*\d+\s*$/.test(retryAfter) ? Number(retryAfter) * 1_000 : undefined;
  let body: GraphQLBody;
  try {
    body = JSON.parse(text) as GraphQLBody;
  } catch {
    const reason = `HTTP ${status} with a body that is not JSON: ${text.slice(0, 120)}`;
    return RETRY_STATUSES.has(status) ? retry(reason, header) : { kind: 'fatal', reason };
  }
  const answer = body.data?.ingestEvents;
  if (answer !== undefined && answer !== null && (body.errors === undefined || body.errors.length === 0)) {
    return { kind: 'done', value: answer };
  }
  const first = body.errors?.[0];
  const code = first?.extensions?.code ?? `HTTP_${status}`;
  const reason = `${code}: ${first?.message ?? 'no ingestEvents result'}`;
  if (RETRY_CODES.has(code) || RETRY_STATUSES.has(status)) {
    // The service's own hint (MAX_QUEUED_EVENTS: the time its backlog takes) is finer than Retry-After's whole seconds.
    const hint = first?.extensions?.retryAfterMs;
    return retry(reason, typeof hint === 'number' && Number.isFinite(hint) && hint > 0 ? hint : header);
  }
  const hint = HINTS[code];
  return { kind: 'fatal', reason: hint === undefined ? reason : `${reason} (${hint})` };
}

function retry(reason: string, afterMs: number | undefined): Attempt<IngestAnswer> {
  return afterMs === undefined ? { kind: 'retry', reason } : { kind: 'retry', reason, afterMs };
}

/** fetch hides the cause of a network failure one level down. */
function networkReason(error: unknown): string {
  const e = error as Error & { cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError') return `no answer within ${REQUEST_TIMEOUT_MS / 1000} s`;
  return e.cause?.code ?? e.cause?.message ?? e.message;
}
