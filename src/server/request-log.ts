import { randomUUID } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import type { Logger } from '../logger.ts';

/** Header carrying the request id, in and out. */
export const REQUEST_ID_HEADER = 'x-request-id';

/** A caller's id is kept when it is short and plain (it goes into logs verbatim). */
const USABLE_ID = /^[\w.:@/+=-]{1,128}$/;

/** Paths probed every few seconds: logged at debug, not info. */
const PROBES = new Set(['/healthz', '/readyz', '/metrics']);

/** The caller's x-request-id when usable, otherwise a new UUID. */
export function requestIdFrom(header: unknown): string {
  return typeof header === 'string' && USABLE_ID.test(header) ? header : randomUUID();
}

/** The logger of one HTTP request (set by {@link requestLogging}). */
export function requestLogger(res: Response, fallback: Logger): Logger {
  const logger: unknown = res.locals['logger'];
  return (logger as Logger | undefined) ?? fallback;
}

/**
 * Gives every HTTP request an id (x-request-id honoured or generated), echoes
 * it in the response, puts it on the request's headers (so GraphQL plugins see
 * it) and on a child logger, and logs one line when the response is sent.
 * Headers are not logged: they may hold keys.
 */
export function requestLogging(logger: Logger) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const id = requestIdFrom(req.headers[REQUEST_ID_HEADER]);
    req.headers[REQUEST_ID_HEADER] = id;
    res.setHeader(REQUEST_ID_HEADER, id);
    const log = logger.child({ requestId: id });
    res.locals['logger'] = log;
    const started = performance.now();
    // Read now: routers mounted on a path rewrite req.url while they run.
    const { method, path } = req;
    res.once('finish', () => {
      const entry = { method, path, status: res.statusCode, ms: Math.round(performance.now() - started) };
      if (PROBES.has(path)) log.debug(entry, 'http request');
      else log.info(entry, 'http request');
    });
    next();
  };
}
