/**
 * The service's id for an event sent without one, written from its
 * definition (README "Session rules", src/ingest/validate.ts): 'derived:'
 * and the first 22 base64url characters of the SHA-256 of the JSON array
 * [userId, name, ts in ms, channelId, value, properties as JSON text].
 * Written here again on purpose: tests compare the code with it.
 */
import { createHash } from 'node:crypto';

export interface DerivedIdInput {
  readonly userId: string;
  readonly name: string;
  readonly ts: number;
  readonly channelId?: string | null;
  readonly value?: number | null;
  /** The event's properties as the JSON text the service stores, or null. */
  readonly properties?: string | null;
}

export function derivedEventId(e: DerivedIdInput): string {
  const content = JSON.stringify([e.userId, e.name, e.ts, e.channelId ?? null, e.value ?? null, e.properties ?? null]);
  return `derived:${createHash('sha256').update(content).digest('base64url').slice(0, 22)}`;
}
