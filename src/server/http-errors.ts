import type { NextFunction, Request, Response } from 'express';
import { ErrorCode } from '../graphql/errors.ts';
import type { Logger } from '../logger.ts';
import { requestLogger } from './request-log.ts';

/** A GraphQL-shaped error body, so clients parse every answer the same way. */
function body(code: ErrorCode, message: string) {
  return { errors: [{ message, extensions: { code } }] };
}

/** The 4xx status a body-parser error carries, or null for anything else. */
function clientStatus(error: unknown): number | null {
  if (typeof error !== 'object' || error === null) return null;
  const status = (error as { status?: unknown; statusCode?: unknown }).status ?? (error as { statusCode?: unknown }).statusCode;
  return typeof status === 'number' && status >= 400 && status < 500 ? status : null;
}

function describe(error: unknown, status: number, limitBytes: number): { code: ErrorCode; message: string } {
  const type = (error as { type?: unknown }).type;
  if (status === 413) {
    return { code: ErrorCode.PayloadTooLarge, message: `the request body is larger than ${limitBytes} bytes (BODY_LIMIT_BYTES)` };
  }
  if (type === 'entity.parse.failed') return { code: ErrorCode.BadRequest, message: 'the request body is not valid JSON' };
  // body-parser's other messages ("unsupported charset ...", "request aborted") hold nothing private.
  return { code: ErrorCode.BadRequest, message: error instanceof Error ? error.message : 'bad request' };
}

/**
 * Answers errors that reach express (the JSON body parser's above all) with a
 * JSON error body and the right status instead of express's HTML page:
 * 413 PAYLOAD_TOO_LARGE, 400 BAD_REQUEST, and a masked 500 for anything else.
 */
export function jsonErrorHandler(logger: Logger, limitBytes: number) {
  return (error: unknown, _req: Request, res: Response, next: NextFunction): void => {
    if (res.headersSent) {
      next(error);
      return;
    }
    const log = requestLogger(res, logger);
    const status = clientStatus(error);
    if (status === null) {
      log.error({ err: error }, 'unexpected error while handling an HTTP request');
      res.status(500).json(body(ErrorCode.Internal, 'Internal server error'));
      return;
    }
    const { code, message } = describe(error, status, limitBytes);
    log.info({ status, code }, 'refused an HTTP request');
    res.status(status).json(body(code, message));
  };
}

/** 404 as JSON for paths nothing serves. */
export function notFound(_req: Request, res: Response): void {
  res.status(404).json(body(ErrorCode.NotFound, 'no such path; GraphQL is served at /graphql'));
}
