/**
 * Segment-compatible ingest: POST /v1/batch, /v1/track, /v1/page, /v1/screen
 * (and /v1/identify, /v1/group, /v1/alias, acknowledged and counted). The
 * edge reads the body, the write key and Segment's size limits; each message
 * is mapped (message.ts) and all of them go through the same validation and
 * writer as the GraphQL mutations (src/ingest/submit.ts).
 */
import express, { type Request, type Response, type Router } from 'express';
import type { Authenticator } from '../../graphql/auth.ts';
import type { Services } from '../../graphql/context.ts';
import { codeOf, ErrorCode } from '../../errors.ts';
import { submitEvents, type IngestObserver } from '../../ingest/submit.ts';
import type { Logger } from '../../logger.ts';
import { requestLogger } from '../request-log.ts';
import { writeKeyError } from './write-key.ts';
import { sortMessages } from './batch.ts';
import { MAX_MESSAGE_BYTES, type SegmentType } from './message.ts';

/** Largest batch request body (Segment's limit). */
export const MAX_BATCH_BYTES = 500 * 1024;
/** Seconds a client is asked to wait before retrying while the database is unavailable. */
const RETRY_AFTER_SECONDS = 5;

/** Endpoint paths and the message type of single calls (null: a batch). Short aliases are analytics.js's. */
const ENDPOINTS: ReadonlyArray<readonly [string, SegmentType | null]> = [
  ['batch', null],
  ['import', null],
  ['track', 'track'],
  ['t', 'track'],
  ['page', 'page'],
  ['p', 'page'],
  ['screen', 'screen'],
  ['s', 'screen'],
  ['identify', 'identify'],
  ['i', 'identify'],
  ['group', 'group'],
  ['g', 'group'],
  ['alias', 'alias'],
  ['a', 'alias'],
];

/** Counts Segment requests and messages (ServiceMetrics). */
export interface SegmentObserver extends IngestObserver {
  segmentRequest(endpoint: string, result: string): void;
  /** `result`: ingested (handed to validation and the writer), acknowledged, or refused at the edge. */
  segmentMessages(type: string, result: 'ingested' | 'acknowledged' | 'refused', count: number): void;
}

export interface SegmentRouterOptions {
  readonly services: Services;
  readonly authenticator: Authenticator;
  readonly logger: Logger;
  readonly observer: SegmentObserver;
}

/** Codes of whole-request refusals. */
export enum SegmentErrorCode {
  InvalidJson = 'INVALID_JSON',
  InvalidBatch = 'INVALID_BATCH',
  BatchTooLarge = 'BATCH_TOO_LARGE',
  MessageTooLarge = 'MESSAGE_TOO_LARGE',
}

function refuse(res: Response, status: number, code: string, message: string): void {
  res.status(status).json({ success: false, code, message });
}

/** The router of the Segment endpoints (mount at the root). */
export function segmentRouter(options: SegmentRouterOptions): Router {
  const { services, authenticator, observer } = options;
  const router = express.Router();
  const body = express.raw({ type: () => true, limit: MAX_BATCH_BYTES });
  for (const [path, type] of ENDPOINTS) {
    const endpoint = type === null ? 'batch' : type;
    router.post(`/v1/${path}`, (req, res, next) => {
      body(req, res, (error?: unknown) => {
        if (error !== undefined) {
          const status = (error as { status?: number }).status;
          if (status === 413) {
            observer.segmentRequest(endpoint, SegmentErrorCode.BatchTooLarge);
            refuse(res, 400, SegmentErrorCode.BatchTooLarge, `a request holds at most ${MAX_BATCH_BYTES} bytes`);
          } else if (typeof status === 'number' && status >= 400 && status < 500) {
            observer.segmentRequest(endpoint, SegmentErrorCode.InvalidJson);
            refuse(res, 400, SegmentErrorCode.InvalidJson, error instanceof Error ? error.message : 'bad request body');
          } else {
            next(error);
          }
          return;
        }
        handle(req, res, type, endpoint).catch(next);
      });
    });
  }

  async function handle(req: Request, res: Response, type: SegmentType | null, endpoint: string): Promise<void> {
    const receivedAt = services.now();
    const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw.toString('utf8'));
    } catch {
      observer.segmentRequest(endpoint, SegmentErrorCode.InvalidJson);
      refuse(res, 400, SegmentErrorCode.InvalidJson, 'the request body is not valid JSON');
      return;
    }
    const payload = parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : null;
    const denied = writeKeyError(authenticator, req.headers.authorization, payload?.['writeKey']);
    if (denied !== null) {
      observer.segmentRequest(endpoint, denied.code);
      if (denied.status === 401) res.setHeader('www-authenticate', 'Basic realm="segment"');
      refuse(res, denied.status, denied.code, denied.message);
      return;
    }
    if (payload === null) {
      observer.segmentRequest(endpoint, SegmentErrorCode.InvalidBatch);
      refuse(res, 400, SegmentErrorCode.InvalidBatch, 'the request body must be a JSON object');
      return;
    }
    if (type !== null && raw.length > MAX_MESSAGE_BYTES) {
      observer.segmentRequest(endpoint, SegmentErrorCode.MessageTooLarge);
      refuse(res, 400, SegmentErrorCode.MessageTooLarge, `a message holds at most ${MAX_MESSAGE_BYTES} bytes`);
      return;
    }
    const messages = type === null ? payload['batch'] : [payload];
    if (!Array.isArray(messages)) {
      observer.segmentRequest(endpoint, SegmentErrorCode.InvalidBatch);
      refuse(res, 400, SegmentErrorCode.InvalidBatch, '`batch` must be an array of messages');
      return;
    }
    const sorted = sortMessages(messages, type, payload['sentAt'], receivedAt, (kind, result) => observer.segmentMessages(kind, result, 1));
    const rejected = [...sorted.refused];
    const { config } = services;
    try {
      const result = await submitEvents(
        sorted.inputs,
        {
          writer: services.ingest,
          nowMs: receivedAt,
          maxFutureSkewMs: config.maxFutureSkewMs,
          maxBatchSize: config.maxBatchSize,
          // A message within Segment's 32 KB keeps all its properties.
          maxPropertiesBytes: MAX_MESSAGE_BYTES,
        },
        observer,
      );
      for (const r of result.rejected) rejected.push({ index: sorted.origin[r.index] ?? r.index, code: r.code, message: r.message });
      rejected.sort((a, b) => a.index - b.index);
      observer.segmentRequest(endpoint, 'ok');
      res.json({ success: true, accepted: result.accepted, duplicates: result.duplicates, acknowledged: sorted.acknowledged, rejected });
    } catch (error) {
      const code = codeOf(error) ?? ErrorCode.Internal;
      observer.segmentRequest(endpoint, code);
      if (code === ErrorCode.BatchTooLarge) {
        refuse(res, 400, code, (error as Error).message);
      } else if (code === ErrorCode.Unavailable || code === ErrorCode.ShuttingDown) {
        // analytics-node and the other SDKs retry a 503 after Retry-After; nothing of this request was saved.
        res.setHeader('retry-after', String(RETRY_AFTER_SECONDS));
        refuse(res, 503, code, (error as Error).message);
      } else {
        requestLogger(res, options.logger).error({ err: error }, 'unexpected error while handling a Segment request');
        refuse(res, 500, ErrorCode.Internal, 'Internal server error');
      }
    }
  }

  return router;
}
