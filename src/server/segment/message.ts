/**
 * One Segment HTTP Tracking API message mapped onto the service's event
 * input (DESIGN.md "HTTP surfaces beside GraphQL"). Only the shape is read
 * here; every rule on the values (required fields, lengths, timestamps,
 * properties) is the shared validation's (src/ingest/validate.ts).
 */
import type { EventInput } from '../../ingest/validate.ts';
import { InvalidDateTime, parseRfc3339, type DateTimeInput } from '../../datetime.ts';

/** Message types that become events, and the ones only acknowledged. */
export const EVENT_TYPES = ['track', 'page', 'screen'] as const;
export const ACKNOWLEDGED_TYPES = ['identify', 'group', 'alias'] as const;
export type SegmentType = (typeof EVENT_TYPES)[number] | (typeof ACKNOWLEDGED_TYPES)[number];

/** Largest message, as JSON bytes (Segment's limit per call and per batched message). */
export const MAX_MESSAGE_BYTES = 32 * 1024;

/** Per-message refusal codes of the Segment endpoints (beside validation's). */
export enum SegmentRejectCode {
  MessageTooLarge = 'MESSAGE_TOO_LARGE',
  InvalidMessage = 'INVALID_MESSAGE',
  UnknownType = 'UNKNOWN_TYPE',
}

export type MappedMessage =
  | { readonly kind: 'event'; readonly type: SegmentType; readonly input: EventInput }
  | { readonly kind: 'acknowledged'; readonly type: SegmentType }
  | { readonly kind: 'refused'; readonly code: SegmentRejectCode; readonly message: string };

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => v !== null && typeof v === 'object' && !Array.isArray(v);
const own = (o: Json, key: string): unknown => (Object.prototype.hasOwnProperty.call(o, key) ? o[key] : undefined);

/** A Segment id: a string, or a finite number (some SDKs send numeric user ids) as text. */
function idOf(value: unknown): unknown {
  return typeof value === 'number' && Number.isFinite(value) ? String(value) : value;
}

/** ms of an ISO 8601 / RFC 3339 value; InvalidDateTime when it is present but not one; null when absent. */
function timeOf(value: unknown): DateTimeInput | null {
  if (value === undefined || value === null) return null;
  const ms = typeof value === 'string' ? parseRfc3339(value) : null;
  return ms ?? new InvalidDateTime(typeof value === 'string' ? value : JSON.stringify(value));
}

/** True for the seven message types. */
export function isSegmentType(value: unknown): value is SegmentType {
  return (EVENT_TYPES as readonly unknown[]).includes(value) || (ACKNOWLEDGED_TYPES as readonly unknown[]).includes(value);
}

/**
 * receivedAt - sentAt up to this (ms, either way) is transit time, not clock
 * skew: timestamps stay as sent. Correcting it too would move each batch's
 * events by its own network delay, so the gaps between events of different
 * batches (and so the sessions) would depend on the network.
 */
export const TRANSIT_TOLERANCE_MS = 10_000;

/**
 * The event time: `timestamp`, else `originalTimestamp`, else the receipt
 * time, moved by the client's clock skew (receivedAt - sentAt, as Segment
 * does) when the message or its batch says when it was sent and the skew is
 * beyond TRANSIT_TOLERANCE_MS.
 */
function eventTime(m: Json, batchSentAt: unknown, receivedAt: number): DateTimeInput {
  const stated = timeOf(own(m, 'timestamp')) ?? timeOf(own(m, 'originalTimestamp'));
  if (stated === null) return receivedAt;
  if (stated instanceof InvalidDateTime) return stated;
  const sentAt = timeOf(own(m, 'sentAt') ?? batchSentAt);
  if (typeof sentAt !== 'number') return stated;
  const skew = receivedAt - sentAt;
  return Math.abs(skew) > TRANSIT_TOLERANCE_MS ? stated + skew : stated;
}

/** properties.revenue, else properties.value, when a number (validation checks its range). */
function valueOf(properties: Json | null): number | null {
  if (properties === null) return null;
  const revenue = own(properties, 'revenue');
  if (typeof revenue === 'number') return revenue;
  const value = own(properties, 'value');
  return typeof value === 'number' ? value : null;
}

/**
 * The properties stored with the event: the message's properties, plus
 * Segment's `context.page` and `context.campaign` under `context` (where
 * attribution reads them; docs/attribution.md).
 */
function propertiesOf(m: Json): Json | null {
  const properties = isObject(own(m, 'properties')) ? (own(m, 'properties') as Json) : null;
  const context = own(m, 'context');
  const page = isObject(context) ? own(context, 'page') : undefined;
  const campaign = isObject(context) ? own(context, 'campaign') : undefined;
  if (!isObject(page) && !isObject(campaign)) return properties;
  const kept: Json = { ...(isObject(properties?.['context']) ? (properties['context'] as Json) : {}) };
  if (isObject(page)) kept['page'] = page;
  if (isObject(campaign)) kept['campaign'] = campaign;
  return { ...(properties ?? {}), context: kept };
}

/**
 * Maps one message. `type` is the endpoint's (single calls) or null (a
 * batch: the message's own `type`). `batchSentAt` is the batch's sentAt.
 */
export function mapMessage(message: unknown, type: SegmentType | null, batchSentAt: unknown, receivedAt: number): MappedMessage {
  if (!isObject(message)) return { kind: 'refused', code: SegmentRejectCode.InvalidMessage, message: 'a message must be a JSON object' };
  const kind = type ?? own(message, 'type');
  if (!isSegmentType(kind)) {
    return { kind: 'refused', code: SegmentRejectCode.UnknownType, message: `type must be one of ${[...EVENT_TYPES, ...ACKNOWLEDGED_TYPES].join(', ')}` };
  }
  switch (kind) {
    case 'identify':
    case 'group':
    case 'alias':
      return { kind: 'acknowledged', type: kind };
    case 'track':
    case 'page':
    case 'screen': {
      const properties = propertiesOf(message);
      const userId = idOf(own(message, 'userId'));
      const input: EventInput = {
        eventId: (idOf(own(message, 'messageId')) ?? null) as string | null,
        userId: (userId === undefined || userId === null || userId === '' ? idOf(own(message, 'anonymousId')) : userId) as string,
        name: (kind === 'track' ? own(message, 'event') : kind === 'page' ? 'page_view' : 'screen_view') as string,
        timestamp: eventTime(message, batchSentAt, receivedAt),
        value: valueOf(properties),
        properties,
      };
      return { kind: 'event', type: kind, input };
    }
    default:
      throw new Error(`unknown message type ${JSON.stringify(kind satisfies never)}`);
  }
}

/**
 * A message of a batch (or a line of a file of them): held to
 * MAX_MESSAGE_BYTES on its own, as JSON written back (a message over it is
 * refused and the others are kept), then mapped with its own `type`.
 */
export function mapBatchedMessage(message: unknown, batchSentAt: unknown, receivedAt: number): MappedMessage {
  let text: string | undefined;
  try {
    text = JSON.stringify(message);
  } catch (error) {
    // Nested so deep that writing it back overflows the stack (thousands of levels): this message only.
    if (!(error instanceof RangeError)) throw error;
    return { kind: 'refused', code: SegmentRejectCode.InvalidMessage, message: 'the message is nested too deeply to be read' };
  }
  if (Buffer.byteLength(text ?? '') > MAX_MESSAGE_BYTES) {
    return { kind: 'refused', code: SegmentRejectCode.MessageTooLarge, message: `a message holds at most ${MAX_MESSAGE_BYTES} bytes` };
  }
  return mapMessage(message, null, batchSentAt, receivedAt);
}
