import { GraphQLScalarType, Kind, print, type ValueNode } from 'graphql';
import { formatDateTime, InvalidDateTime, parseRfc3339, type DateTimeInput } from '../datetime.ts';
import { ErrorCode, ServiceError } from './errors.ts';

export { formatDateTime, InvalidDateTime, parseRfc3339, type DateTimeInput } from '../datetime.ts';

function dateTimeFromInput(value: unknown): DateTimeInput {
  const text = typeof value === 'string' ? value : JSON.stringify(value) ?? String(value);
  const ms = typeof value === 'string' ? parseRfc3339(value) : null;
  return ms === null ? new InvalidDateTime(text) : ms;
}

/** Unwraps a DateTime argument, throwing BAD_USER_INPUT naming `name` when it is invalid. */
export function dateTimeArg(value: DateTimeInput, name: string): number;
export function dateTimeArg(value: DateTimeInput | null | undefined, name: string): number | null;
export function dateTimeArg(value: DateTimeInput | null | undefined, name: string): number | null {
  if (value === null || value === undefined) return null;
  if (value instanceof InvalidDateTime) {
    throw new ServiceError(ErrorCode.BadUserInput, `${name}: ${value.message}`, { argument: name });
  }
  return value;
}

/** DateTime: ms since epoch inside the service; RFC 3339 strings outside. */
export const DateTimeScalar = new GraphQLScalarType<DateTimeInput, string>({
  name: 'DateTime',
  serialize(value) {
    if (typeof value === 'number') return formatDateTime(value);
    if (value instanceof Date) return value.toISOString();
    throw new TypeError('DateTime cannot represent this value');
  },
  parseValue: dateTimeFromInput,
  parseLiteral(ast) {
    return dateTimeFromInput(ast.kind === Kind.STRING ? ast.value : print(ast));
  },
});

function literalToJson(ast: ValueNode, variables: Record<string, unknown> | null | undefined): unknown {
  switch (ast.kind) {
    case Kind.STRING:
    case Kind.BOOLEAN:
      return ast.value;
    case Kind.INT:
    case Kind.FLOAT:
      return Number(ast.value);
    case Kind.NULL:
      return null;
    case Kind.ENUM:
      return ast.value;
    case Kind.LIST:
      return ast.values.map((v) => literalToJson(v, variables));
    case Kind.OBJECT:
      return Object.fromEntries(ast.fields.map((f) => [f.name.value, literalToJson(f.value, variables)]));
    case Kind.VARIABLE:
      return variables?.[ast.name.value];
  }
}

/** JSON: any JSON value, passed through. */
export const JsonScalar = new GraphQLScalarType<unknown, unknown>({
  name: 'JSON',
  serialize: (value) => value,
  parseValue: (value) => value,
  parseLiteral: literalToJson,
});
