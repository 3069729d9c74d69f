import { ApolloArmor } from '@escape.tech/graphql-armor';
import { GraphQLError, type ParseOptions, type ValidationContext, type ValidationRule } from 'graphql';
import type { Config } from '../config.ts';

/** Limits on one GraphQL document, checked before anything runs. */
export type QueryLimits = Config['queryLimits'];

/** Code of every limit error: the same code graphql-js validation errors carry over HTTP. */
const LIMIT_ERROR_CODE = 'GRAPHQL_VALIDATION_FAILED';

/**
 * Reports a refused document to the validation context (never throws: a
 * thrown error would escape graphql-js validate() and, over WebSocket, the
 * connection). The message says which limit and which setting.
 */
function reporter(setting: string): (context: ValidationContext | null, error: GraphQLError) => void {
  return (context, error) => {
    const message = `${error.message.replace(/^Syntax Error: /, '')} (${setting})`;
    context?.reportError(new GraphQLError(message, { extensions: { code: LIMIT_ERROR_CODE, limit: setting } }));
  };
}

/**
 * Validation rules for depth, cost, aliases and directives (graphql-armor),
 * to run after graphql-js's specified rules. Apollo takes them as
 * `validationRules`; the WebSocket server can pass the same list to
 * `validate(schema, document, [...specifiedRules, ...queryValidationRules(limits)])`.
 * Introspection (`__schema`) is left to graphql-js's MaxIntrospectionDepthRule.
 */
export function queryValidationRules(limits: QueryLimits): ValidationRule[] {
  const common = { exposeLimits: true, propagateOnRejection: false } as const;
  const armor = new ApolloArmor({
    maxDepth: { ...common, n: limits.maxDepth, ignoreIntrospection: true, onReject: [reporter('MAX_QUERY_DEPTH')] },
    costLimit: { ...common, maxCost: limits.maxCost, ignoreIntrospection: true, onReject: [reporter('MAX_QUERY_COST')] },
    maxAliases: { ...common, n: limits.maxAliases, onReject: [reporter('MAX_QUERY_ALIASES')] },
    maxDirectives: { ...common, n: limits.maxDirectives, onReject: [reporter('MAX_QUERY_DIRECTIVES')] },
    // Tokens are counted by graphql-js's own parser (queryParseOptions): one parse, a plain syntax error.
    maxTokens: { enabled: false },
    // Field suggestions are masked in the error formatter (they also show over WebSocket errors).
    blockFieldSuggestion: { enabled: false },
  });
  return armor.protect().validationRules;
}

/**
 * Parser options that stop a document past `maxTokens` lexical tokens (or as
 * many comments) before it is built: Apollo's `parseOptions`, and the options
 * for `parse()` on the WebSocket side.
 */
export function queryParseOptions(limits: QueryLimits): ParseOptions {
  return { maxLexicalTokens: limits.maxTokens, maxComments: limits.maxTokens };
}

/** Removes "Did you mean ...?" hints, which spell out the schema to callers that may not introspect it. */
export function withoutSuggestions(message: string): string {
  return message.replace(/ ?Did you mean .+\?$/, '');
}
