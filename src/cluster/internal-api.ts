import { timingSafeEqual } from 'node:crypto';
import express, { type Request, type Response } from 'express';
import { CodedError, ErrorCode } from '../errors.ts';
import { AdmissionRefused } from '../ingest/admission.ts';
import type { ValidEvent } from '../ingest/validate.ts';
import type { Writer } from '../ingest/writer.ts';
import type { Logger } from '../logger.ts';
import { FencedError } from './cluster-store.ts';
import type { Ownership } from './ownership.ts';
import { partitionOf } from './partition.ts';

/** Where another instance sends events of partitions this one owns. Not part of the public GraphQL schema. */
export const INTERNAL_INGEST_PATH = '/internal/cluster/ingest';
/** Where another instance asks this one to flush its partitions (flushSessions). */
export const INTERNAL_FLUSH_PATH = '/internal/cluster/flush';

export interface InternalApiOptions {
  readonly secret: string;
  readonly ownership: Ownership;
  readonly writer: Writer;
  readonly partitions: number;
  /** Largest body accepted (a forwarded part is at most one public request's events). */
  readonly bodyLimitBytes: number;
  readonly logger: Logger;
}

function sameSecret(given: string, secret: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(secret);
  return a.length === b.length && timingSafeEqual(a, b);
}

const isText = (v: unknown): v is string => typeof v === 'string';
const isTextOrNull = (v: unknown): boolean => v === null || typeof v === 'string';

/** The events of a forwarded part, as the sending instance validated them; null when the body is not that. */
function parseEvents(body: unknown): ValidEvent[] | null {
  const events = (body as { events?: unknown } | null)?.events;
  if (!Array.isArray(events)) return null;
  for (const e of events as Array<Record<string, unknown>>) {
    if (typeof e !== 'object' || e === null) return null;
    if (!isText(e['eventId']) || !isText(e['userId']) || !isText(e['name']) || typeof e['ts'] !== 'number') return null;
    if (!isTextOrNull(e['channelId']) || !isTextOrNull(e['properties'])) return null;
    if (e['value'] !== null && typeof e['value'] !== 'number') return null;
  }
  return events as ValidEvent[];
}

/**
 * The answer for a refused or failed internal call: 409 tells the sender to
 * route again; 429 is this writer's admission refusal, passed to the client.
 */
function refuse(res: Response, error: unknown, logger: Logger): void {
  if (error instanceof AdmissionRefused) {
    res.status(429).setHeader('retry-after', String(Math.ceil(error.retryAfterMs / 1_000)));
    res.json({ code: ErrorCode.Unavailable, message: error.message, retryAfterMs: error.retryAfterMs });
    return;
  }
  if (error instanceof FencedError || (error instanceof CodedError && error.code === ErrorCode.ShuttingDown)) {
    res.status(409).json({ code: 'MOVED', message: error.message });
    return;
  }
  if (error instanceof CodedError && error.code === ErrorCode.Unavailable) {
    res.status(503).json({ code: ErrorCode.Unavailable, message: error.message });
    return;
  }
  logger.error({ err: error }, 'cluster: internal call failed');
  res.status(500).json({ code: ErrorCode.Internal, message: 'internal error' });
}

/**
 * The endpoints instances call on each other, authenticated by the cluster
 * secret (401 without it). Events are applied only when every one belongs to
 * a partition this instance holds; otherwise 409 (MOVED) and the sender
 * routes them again.
 */
export function internalApi(options: InternalApiOptions): express.Router {
  const router = express.Router();
  const { logger } = options;
  router.use('/internal/cluster', (req: Request, res: Response, next) => {
    const header = req.headers.authorization ?? '';
    const given = header.startsWith('Bearer ') ? header.slice('Bearer '.length) : '';
    if (!sameSecret(given, options.secret)) {
      res.status(401).json({ code: ErrorCode.Unauthenticated, message: 'the cluster secret is missing or wrong' });
      return;
    }
    next();
  });
  router.use('/internal/cluster', express.json({ limit: options.bodyLimitBytes }));
  router.post(INTERNAL_INGEST_PATH, (req: Request, res: Response) => {
    const events = parseEvents(req.body);
    if (events === null) {
      res.status(400).json({ code: ErrorCode.BadRequest, message: 'expected {"events": [...]} of validated events' });
      return;
    }
    for (const e of events) {
      if (!options.ownership.holds(partitionOf(e.userId, options.partitions))) {
        res.status(409).json({ code: 'MOVED', message: 'this instance does not own every partition of these events' });
        return;
      }
    }
    options.writer.ingest(events).then(
      (counts) => res.json(counts),
      (error: unknown) => refuse(res, error, logger),
    );
  });
  router.post(INTERNAL_FLUSH_PATH, (req: Request, res: Response) => {
    const before = (req.body as { before?: unknown } | null)?.before;
    if (before !== null && before !== undefined && typeof before !== 'number') {
      res.status(400).json({ code: ErrorCode.BadRequest, message: 'before must be a number of ms or null' });
      return;
    }
    options.writer.flush(typeof before === 'number' ? before : null).then(
      (closed) => res.json({ closed }),
      (error: unknown) => refuse(res, error, logger),
    );
  });
  return router;
}
