import { GraphQLError } from 'graphql';
import { CodedError, ErrorCode } from '../errors.ts';

export { ErrorCode, RejectCode } from '../errors.ts';

/**
 * An expected failure of the GraphQL layer (arguments, scalars, keys, the
 * WebSocket checks) shown to the client with its code and message. The
 * layers below raise CodedError instead.
 */
export class ServiceError extends GraphQLError {
  constructor(code: ErrorCode, message: string, extra: Record<string, unknown> = {}) {
    super(message, { extensions: { code, ...extra } });
  }
}

/** True for errors whose message is meant for clients (everything else is masked). */
export function isPublicError(error: unknown): boolean {
  return error instanceof ServiceError || error instanceof CodedError;
}
