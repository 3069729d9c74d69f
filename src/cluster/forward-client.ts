import { AdmissionRefused } from '../ingest/admission.ts';
import type { ValidEvent } from '../ingest/validate.ts';
import { INTERNAL_FLUSH_PATH, INTERNAL_INGEST_PATH } from './internal-api.ts';

/** A part that must be routed again: its owner moved, is stopping, or could not be reached. */
export class RetryElsewhere extends Error {
  override readonly name = 'RetryElsewhere';
}

/** What forwarding reports (metrics). */
export interface ForwardObserver {
  forwarded(events: number, seconds: number, ok: boolean): void;
}

/** The base URL of an instance (its advertised URL may end in /graphql). */
function base(url: string): string {
  return url.replace(/\/graphql\/?$/, '').replace(/\/$/, '');
}

function safeJson(text: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

async function post(url: string, secret: string, body: unknown, timeoutMs: number): Promise<Record<string, unknown>> {
  let response: Response;
  try {
    response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${secret}` },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (error) {
    // Unreachable, or no answer in time: the owner may have committed; a retry is idempotent.
    throw new RetryElsewhere(`no answer from ${url}: ${error instanceof Error ? error.message : String(error)}`);
  }
  const text = await response.text().catch(() => '');
  if (response.status === 429) {
    // The owner's writer is full: the client backs off, not this instance (router.ts).
    const answer = safeJson(text);
    const retryAfterMs = Number(answer['retryAfterMs']);
    throw new AdmissionRefused(Number.isFinite(retryAfterMs) ? retryAfterMs : 1_000, String(answer['message'] ?? 'overloaded; retry later'));
  }
  if (response.status === 409 || response.status === 503 || response.status === 502 || response.status === 504) {
    throw new RetryElsewhere(`${url} answered ${response.status}: ${text.slice(0, 200)}`);
  }
  if (!response.ok) throw new Error(`${url} answered ${response.status}: ${text.slice(0, 200)}`);
  return JSON.parse(text) as Record<string, unknown>;
}

/** Sends events to the instance that owns their partitions; resolves with its commit's counts. */
export async function forwardIngest(
  url: string,
  secret: string,
  events: readonly ValidEvent[],
  timeoutMs: number,
  observer?: ForwardObserver,
): Promise<{ accepted: number; duplicates: number }> {
  const started = performance.now();
  try {
    const answer = await post(`${base(url)}${INTERNAL_INGEST_PATH}`, secret, { events }, timeoutMs);
    observer?.forwarded(events.length, (performance.now() - started) / 1_000, true);
    return { accepted: Number(answer['accepted']), duplicates: Number(answer['duplicates']) };
  } catch (error) {
    observer?.forwarded(events.length, (performance.now() - started) / 1_000, false);
    throw error;
  }
}

/** Flushes another instance's partitions; resolves with how many sessions it closed. */
export async function forwardFlush(url: string, secret: string, before: number | null, timeoutMs: number): Promise<number> {
  const answer = await post(`${base(url)}${INTERNAL_FLUSH_PATH}`, secret, { before }, timeoutMs);
  return Number(answer['closed']);
}
