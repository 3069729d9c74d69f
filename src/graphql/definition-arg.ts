import { DEFAULT_DEFINITION } from '../definitions/definitions.ts';
import type { RequestContext } from './context.ts';
import { ErrorCode, ServiceError } from './errors.ts';

/**
 * The `definition` argument of queries and subscriptions: a known
 * definition's name, `default` when omitted; UNKNOWN_DEFINITION otherwise
 * (DESIGN.md "Session definitions").
 */
export function definitionArg(args: Readonly<Record<string, unknown>>, ctx: RequestContext): string {
  const name = (args['definition'] as string | null | undefined) ?? DEFAULT_DEFINITION;
  if (!ctx.services.definitions.has(name)) {
    throw new ServiceError(ErrorCode.UnknownDefinition, `no session definition "${name.slice(0, 64)}" (the query definitions lists them)`);
  }
  return name;
}
