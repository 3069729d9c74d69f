/**
 * The messages of one Segment request sorted into event inputs (for the
 * shared ingest path), acknowledgements and refusals, each refusal with the
 * message's index.
 */
import type { EventInput } from '../../ingest/validate.ts';
import { isSegmentType, mapBatchedMessage, mapMessage, type SegmentType } from './message.ts';

/** A message refused by index. */
export interface MessageRejection {
  readonly index: number;
  readonly code: string;
  readonly message: string;
}

export interface SortedBatch {
  readonly inputs: EventInput[];
  /** Index in the request of each input. */
  readonly origin: number[];
  readonly refused: MessageRejection[];
  readonly acknowledged: number;
}

/** Counts one message by type and result (metrics). */
export type MessageCounter = (type: string, result: 'ingested' | 'acknowledged' | 'refused') => void;

/** A metric label for a refused message: its type when known (bounded label values). */
function typeLabel(message: unknown): string {
  const type = message !== null && typeof message === 'object' ? (message as { type?: unknown }).type : undefined;
  return isSegmentType(type) ? type : 'unknown';
}

/**
 * Maps every message (`type`: the single call's, or null for a batch). In a
 * batch each message is held to Segment's 32 KB on its own: one too large is
 * refused and the others are kept.
 */
export function sortMessages(
  messages: readonly unknown[],
  type: SegmentType | null,
  sentAt: unknown,
  receivedAt: number,
  count: MessageCounter,
): SortedBatch {
  const sorted = { inputs: [] as EventInput[], origin: [] as number[], refused: [] as MessageRejection[], acknowledged: 0 };
  messages.forEach((message, index) => {
    const mapped = type === null ? mapBatchedMessage(message, sentAt, receivedAt) : mapMessage(message, type, sentAt, receivedAt);
    switch (mapped.kind) {
      case 'event':
        sorted.inputs.push(mapped.input);
        sorted.origin.push(index);
        count(mapped.type, 'ingested');
        break;
      case 'acknowledged':
        sorted.acknowledged++;
        count(mapped.type, 'acknowledged');
        break;
      case 'refused':
        sorted.refused.push({ index, code: mapped.code, message: mapped.message });
        count(type ?? typeLabel(message), 'refused');
        break;
      default:
        throw new Error(`unknown mapping ${JSON.stringify(mapped satisfies never)}`);
    }
  });
  return sorted;
}
