import { GraphQLScalarType, Kind, print, type ValueNode } from 'graphql';
import { ErrorCode, ServiceError } from './errors.ts';

/** RFC 3339 date-time with a required offset (Z or ±hh:mm), optional fraction. */
const RFC3339 =
  /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-](\d{2}):(\d{2}))$/;

/**
 * Parses an RFC 3339 timestamp into ms since the epoch, or null when the
 * text is not one (missing offset, impossible date such as Feb 30, ...).
 */
export function parseRfc3339(text: string): number | null {
  const m = RFC3339.exec(text);
  if (!m) return null;
  const [year, month, day, hour, minute, second] = [m[1], m[2], m[3], m[4], m[5], m[6]].map(Number) as [
    number, number, number, number, number, number,
  ];
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 60) return null;
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (day > daysInMonth) return null;
  const ms = Date.parse(text.replace(' ', 'T'));
  // Leap seconds (:60) are folded into the next second by Date.parse or rejected; both are fine.
  return Number.isFinite(ms) ? ms : null;
}

/** Formats ms since the epoch as UTC RFC 3339 with milliseconds. */
export function formatDateTime(ms: number): string {
  return new Date(ms).toISOString();
}

/**
 * A DateTime input that did not parse. The scalar does not throw, so that a
 * bad timestamp inside one event of a batch rejects only that event
 * (INVALID_TIMESTAMP); arguments go through {@link dateTimeArg}, which throws.
 */
export class InvalidDateTime {
  constructor(readonly input: string) {}
  get message(): string {
    return `"${this.input.slice(0, 64)}" is not an RFC 3339 date-time with an offset (e.g. 2026-01-31T12:00:00Z)`;
  }
}

/** What the DateTime scalar gives resolvers: ms since the epoch, or the bad input. */
export type DateTimeInput = number | InvalidDateTime;

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
