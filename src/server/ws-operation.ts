import { createRequire } from 'node:module';
import type { DocumentNode, ExecutionArgs, GraphQLError, GraphQLSchema } from 'graphql';
import type { SubscribePayload } from 'graphql-ws';
import type { Caller } from '../graphql/auth.ts';
import { introspectionError } from '../graphql/introspection-access.ts';
import { queryParseOptions, queryValidationRules, withoutSuggestions, type QueryLimits } from '../graphql/limits.ts';

// graphql-ws checks `instanceof GraphQLError` against the copy of graphql it
// loads (the CommonJS one), and a schema only validates with rules of the
// copy that built it: parse, validate and build errors with that copy, as
// src/realtime/shared-execution.ts explains.
const graphql = createRequire(import.meta.url)('graphql') as typeof import('graphql');

/** extensions.code of refused documents, as Apollo Server gives them over HTTP. */
const RequestCode = {
  ParseFailed: 'GRAPHQL_PARSE_FAILED',
  ValidationFailed: 'GRAPHQL_VALIDATION_FAILED',
  OperationResolutionFailure: 'OPERATION_RESOLUTION_FAILURE',
} as const;

/** A refusal of an operation as graphql-ws answers it: a GraphQLError of its copy with `code`. */
export function refusal(message: string, code: string): GraphQLError {
  return new graphql.GraphQLError(message, { extensions: { code } });
}

/** A GraphQLError of graphql-ws's copy, with `code` added to the extensions of `error` (which may come from either copy). */
export function coded(error: GraphQLError, code: string, message = error.message): GraphQLError {
  return new graphql.GraphQLError(message, {
    nodes: error.nodes ?? null,
    source: error.source ?? null,
    positions: error.positions ?? null,
    extensions: { ...error.extensions, code },
  });
}

/** Checks a WebSocket operation before it runs: execution arguments, or the errors to answer with. */
export type OperationCheck = (payload: SubscribePayload, caller: Caller) => ExecutionArgs | GraphQLError[];

/**
 * The checks the HTTP endpoint makes (src/server/http-server.ts), for
 * graphql-ws's `onSubscribe`, in the same order and with the same codes:
 * the token limit while parsing (GRAPHQL_PARSE_FAILED), graphql-js's rules
 * plus depth, cost, alias and directive limits (GRAPHQL_VALIDATION_FAILED,
 * without "Did you mean" hints), the operation to run
 * (OPERATION_RESOLUTION_FAILURE), then introspection, which needs the read
 * role once keys are set (UNAUTHENTICATED or FORBIDDEN).
 */
export function createOperationCheck(schema: GraphQLSchema, limits: QueryLimits): OperationCheck {
  const parseOptions = queryParseOptions(limits);
  const rules = [...graphql.specifiedRules, ...queryValidationRules(limits)];
  return (payload, caller) => {
    let document: DocumentNode;
    try {
      document = graphql.parse(payload.query, parseOptions);
    } catch (error) {
      if (!(error instanceof graphql.GraphQLError)) throw error;
      return [coded(error, RequestCode.ParseFailed)];
    }
    const invalid = graphql.validate(schema, document, rules);
    if (invalid.length > 0) return invalid.map((error) => coded(error, RequestCode.ValidationFailed, withoutSuggestions(error.message)));
    const operationName = payload.operationName ?? null;
    const operation = graphql.getOperationAST(document, operationName);
    if (operation === null || operation === undefined) {
      const message =
        operationName === null ? 'Must provide operation name if query contains multiple operations.' : `Unknown operation named "${operationName}".`;
      return [new graphql.GraphQLError(message, { extensions: { code: RequestCode.OperationResolutionFailure } })];
    }
    const refusal = introspectionError(caller, document, operation);
    if (refusal !== null) return [coded(refusal, String(refusal.extensions['code']))];
    return { schema, document, operationName, variableValues: payload.variables ?? null };
  };
}
