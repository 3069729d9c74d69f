import express, { type Request, type Response } from 'express';
import { ErrorCode } from '../graphql/errors.ts';
import { OVERLOADED } from '../ingest/admission.ts';

/**
 * Bodies from this size up are taken for ingest batches (a GraphQL query is a
 * few KB; 1,000 events are about 200 KB), so only they can be refused here.
 */
export const LARGE_BODY_BYTES = 65_536;

export interface AdmissionGateOptions {
  /** Path of the GraphQL endpoint. */
  readonly path: string;
  /** The writer's refusal: retryAfterMs while it is full, else null (Writer.overloaded). */
  readonly overloaded: () => number | null;
  /** Most bytes of large request bodies read and parsed at once (MAX_INFLIGHT_BODY_BYTES). */
  readonly maxInflightBytes: number;
  /** Counts a refusal made here (metrics). */
  readonly refused: () => void;
}

function refuse(res: Response, retryAfterMs: number, message: string): void {
  res.status(503).setHeader('retry-after', String(Math.max(1, Math.ceil(retryAfterMs / 1_000))));
  res.json({ errors: [{ message, extensions: { code: ErrorCode.Unavailable, reason: OVERLOADED, retryAfterMs } }] });
}

/**
 * Admission control at the door, before a body is read: a large POST to the
 * GraphQL path is answered at once with 503 SERVICE_UNAVAILABLE (reason
 * OVERLOADED, retryAfterMs, Retry-After) while the writer is full, or while
 * large bodies of MAX_INFLIGHT_BODY_BYTES are already being read and
 * parsed. The writer refuses the same way once a batch is parsed; refusing
 * here costs no parsing and holds no body, so neither the CPU nor the memory
 * of a flood grows with the number of clients.
 */
export function admissionGate(options: AdmissionGateOptions): express.Router {
  const router = express.Router();
  let inflight = 0;
  router.post(options.path, (req: Request, res: Response, next) => {
    const length = Number(req.headers['content-length']);
    // A chunked body has no length: count it as the largest allowed.
    const size = Number.isFinite(length) ? length : options.maxInflightBytes;
    if (size < LARGE_BODY_BYTES) {
      next();
      return;
    }
    const retryAfterMs = options.overloaded();
    if (retryAfterMs !== null) {
      options.refused();
      refuse(res, retryAfterMs, `overloaded: the writer holds MAX_QUEUED_EVENTS events; nothing of this request was read, retry in ${retryAfterMs} ms`);
      return;
    }
    if (inflight > 0 && inflight + size > options.maxInflightBytes) {
      options.refused();
      refuse(res, 1_000, 'overloaded: too many large requests are being read (MAX_INFLIGHT_BODY_BYTES); nothing of this request was read, retry in 1000 ms');
      return;
    }
    inflight += size;
    res.once('close', () => (inflight -= size));
    next();
  });
  return router;
}
