import { GraphQLError } from 'graphql';
import { ErrorCode } from '../errors.ts';

export { ErrorCode, RejectCode } from '../errors.ts';

/** An expected failure shown to the client with its code and message. */
export class ServiceError extends GraphQLError {
  constructor(code: ErrorCode, message: string, extra: Record<string, unknown> = {}) {
    super(message, { extensions: { code, ...extra } });
  }
}

/** True for errors whose message is meant for clients (everything else is masked). */
export function isPublicError(error: unknown): boolean {
  return error instanceof ServiceError;
}
