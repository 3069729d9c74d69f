import cors from 'cors';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { ErrorCode } from '../graphql/errors.ts';
import { REQUEST_ID_HEADER } from './request-log.ts';

/**
 * Request headers a browser client may send cross-origin: JSON bodies, bearer
 * keys, Apollo's CSRF-prevention header (which forces a preflight on GET), and
 * a request id of its own.
 */
export const CORS_ALLOWED_HEADERS = ['content-type', 'authorization', 'apollo-require-preflight', REQUEST_ID_HEADER] as const;

/** How long a browser may reuse a preflight answer (seconds). */
const PREFLIGHT_MAX_AGE_S = 600;

function isPreflight(req: Request): boolean {
  return req.method === 'OPTIONS' && req.headers.origin !== undefined && req.headers['access-control-request-method'] !== undefined;
}

/**
 * CORS per CORS_ORIGINS through the `cors` middleware. `*` allows any origin
 * (keys travel in the Authorization header, never in cookies, so no
 * credentials mode is needed); a list allows those origins; an empty list
 * (unset) allows none beyond the page's own origin, which needs no CORS.
 *
 * A preflight from an origin that is not allowed is answered 403 with a coded
 * JSON error rather than an empty 204 without Access-Control-Allow-Origin: the
 * browser refuses either way, but a person reading the network tab, or a
 * check with curl, sees why. Simple requests (no preflight) from such an
 * origin get no CORS headers, so the browser keeps their answer from the page;
 * Apollo's CSRF prevention refuses the ones that could have side effects.
 */
export function corsMiddleware(origins: '*' | readonly string[]): RequestHandler {
  const allowed = origins === '*' ? null : new Set(origins);
  const isAllowed = (origin: string): boolean => allowed === null || allowed.has(origin);
  const handler = cors({
    origin: origins === '*' ? '*' : (origin, callback) => callback(null, origin !== undefined && isAllowed(origin)),
    methods: ['GET', 'POST', 'OPTIONS'],
    allowedHeaders: [...CORS_ALLOWED_HEADERS],
    exposedHeaders: [REQUEST_ID_HEADER],
    maxAge: PREFLIGHT_MAX_AGE_S,
  });
  return (req: Request, res: Response, next: NextFunction): void => {
    const origin = req.headers.origin;
    // The answer depends on the origin: shared caches must keep one per origin.
    res.vary('Origin');
    if (isPreflight(req) && origin !== undefined && !isAllowed(origin)) {
      res.status(403).json({
        errors: [
          {
            message: `origin ${origin} may not call this API from a browser (CORS_ORIGINS ${allowed === null || allowed.size === 0 ? 'is unset: same origin only' : 'does not list it'})`,
            extensions: { code: ErrorCode.Forbidden },
          },
        ],
      });
      return;
    }
    if (allowed !== null && allowed.size === 0) {
      next();
      return;
    }
    handler(req, res, next);
  };
}
