/**
 * The `sessions` command line -> a typed command. Parsed once, here, with
 * precise messages; nothing else looks at argv. Pure: the environment comes
 * in as an argument.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { parseDurationMs } from '../duration.ts';
import type { SessionRules } from '../sessionizer/types.ts';
import { INPUT_FORMATS, type InputFormat } from './line-events.ts';
import { OUTPUT_FORMATS, type OutputFormat } from './session-output.ts';
import { INGEST_USAGE, MAIN_USAGE, SESSIONIZE_USAGE } from './usage.ts';

const MAIN_HELP = 'sessions --help';
const INGEST_HELP = 'sessions ingest --help';
const SESSIONIZE_HELP = 'sessions sessionize --help';

/** A command line that cannot run; the message says why (exit code 2). */
export class UsageError extends Error {
  constructor(
    message: string,
    /** Where the help is: "sessions --help", "sessions ingest --help". */
    readonly help: string,
  ) {
    super(message);
  }
}

export interface SessionizeCommand {
  readonly kind: 'sessionize';
  /** A path, or "-" for stdin. */
  readonly input: string;
  readonly rules: SessionRules;
  /** ms; Infinity for --lateness unlimited. */
  readonly latenessMs: number;
  /** Timestamps more than this (ms) ahead of the clock are refused (FUTURE_TIMESTAMP), as by the service. */
  readonly maxFutureSkewMs: number;
  readonly format: OutputFormat;
  /** --input-format: what the lines hold (line-events.ts). */
  readonly inputFormat: InputFormat;
  /**
   * --definitions: a SESSION_DEFINITIONS file (docs/definitions.md); every
   * session is then cut per definition and tagged with its name. Null: the
   * rules above, untagged.
   */
  readonly definitionsFile: string | null;
}

export interface IngestCommand {
  readonly kind: 'ingest';
  /** A path, or "-" for stdin. */
  readonly input: string;
  readonly url: string;
  /** Bearer key, or null for none. */
  readonly key: string | null;
  readonly batchSize: number;
  readonly concurrency: number;
  readonly retries: number;
  /** --input-format: what the lines hold (line-events.ts). */
  readonly inputFormat: InputFormat;
}

export type Command = { readonly kind: 'help'; readonly text: string } | SessionizeCommand | IngestCommand;

export type Env = Readonly<Record<string, string | undefined>>;

export const DEFAULT_URL = 'http://localhost:4000/graphql';
/** The service's defaults (DESIGN.md, "Configuration"), except lateness: see docs/cli.md. */
export const SESSIONIZE_DEFAULTS = {
  gap: '30m',
  maxDuration: '24h',
  lateness: '5m',
  conversionEvents: 'purchase',
  engagedMinDuration: '10s',
  engagedMinEvents: 2,
  maxFutureSkew: '5m',
} as const;
export const INGEST_DEFAULTS = { batch: 1_000, concurrency: 4, retries: 8 } as const;
/** Largest --batch: the service's own cap on MAX_BATCH_SIZE. */
const MAX_BATCH = 1_000_000;
const MAX_CONCURRENCY = 64;
const MAX_RETRIES = 100;

const HELP = { type: 'boolean', short: 'h' } as const;

/** Parses the arguments after the program name. Throws UsageError. */
export function parseCommand(argv: readonly string[], env: Env = {}): Command {
  const [name, ...rest] = argv;
  switch (name) {
    case undefined:
      throw new UsageError('missing command', MAIN_HELP);
    case 'help':
    case '--help':
    case '-h':
      return { kind: 'help', text: MAIN_USAGE };
    case 'sessionize':
      return parseSessionize(rest);
    case 'ingest':
      return parseIngest(rest, env);
    default:
      throw new UsageError(`unknown command ${JSON.stringify(name)}`, MAIN_HELP);
  }
}

type Values = Record<string, string | boolean | undefined>;

/** parseArgs with the command's help on every error, and exactly one input. */
function parse(args: readonly string[], options: ParseArgsConfig['options'], help: string): { values: Values; input: string | null } {
  let parsed: { values: Values; positionals: string[] };
  try {
    parsed = parseArgs({ args: [...args], options, allowPositionals: true, strict: true }) as typeof parsed;
  } catch (error) {
    throw new UsageError((error as Error).message.split('\n')[0] ?? 'bad arguments', help);
  }
  if (parsed.values['help'] === true) return { values: parsed.values, input: null };
  const [input, ...extra] = parsed.positionals;
  if (input === undefined) throw new UsageError('missing input: a FILE.jsonl, or - for stdin', help);
  if (extra.length > 0) throw new UsageError(`one input only; unexpected ${JSON.stringify(extra[0])}`, help);
  return { values: parsed.values, input };
}

function parseSessionize(args: readonly string[]): Command {
  const help = SESSIONIZE_HELP;
  const { values, input } = parse(
    args,
    {
      gap: { type: 'string' },
      'max-duration': { type: 'string' },
      lateness: { type: 'string' },
      format: { type: 'string' },
      'conversion-events': { type: 'string' },
      'engaged-min-duration': { type: 'string' },
      'engaged-min-events': { type: 'string' },
      'max-future-skew': { type: 'string' },
      definitions: { type: 'string' },
      'input-format': { type: 'string' },
      help: HELP,
    },
    help,
  );
  if (input === null) return { kind: 'help', text: SESSIONIZE_USAGE };
  const d = SESSIONIZE_DEFAULTS;
  const gapMs = duration(values, 'gap', d.gap, help, false);
  const maxDurationMs = duration(values, 'max-duration', d.maxDuration, help, false);
  if (maxDurationMs <= gapMs) throw new UsageError(`--max-duration must be longer than --gap`, help);
  const lateness = text(values, 'lateness') ?? d.lateness;
  const format = text(values, 'format') ?? 'jsonl';
  if (!(OUTPUT_FORMATS as readonly string[]).includes(format)) {
    throw new UsageError(`--format must be one of ${OUTPUT_FORMATS.join(', ')} (got ${JSON.stringify(format)})`, help);
  }
  const conversion = (text(values, 'conversion-events') ?? d.conversionEvents).split(',').map((s) => s.trim());
  return {
    kind: 'sessionize',
    input,
    rules: {
      gapMs,
      maxDurationMs,
      conversionEvents: new Set(conversion.filter((s) => s !== '')),
      engagedMinDurationMs: duration(values, 'engaged-min-duration', d.engagedMinDuration, help, true),
      engagedMinEvents: integer(values, 'engaged-min-events', d.engagedMinEvents, 1, 1_000_000, help),
    },
    latenessMs: lateness === 'unlimited' ? Number.POSITIVE_INFINITY : durationText('lateness', lateness, help, true),
    maxFutureSkewMs: duration(values, 'max-future-skew', d.maxFutureSkew, help, true),
    format: format as OutputFormat,
    inputFormat: inputFormat(values, help),
    definitionsFile: text(values, 'definitions') ?? null,
  };
}

function parseIngest(args: readonly string[], env: Env): Command {
  const help = INGEST_HELP;
  const { values, input } = parse(
    args,
    {
      url: { type: 'string' },
      key: { type: 'string' },
      batch: { type: 'string' },
      concurrency: { type: 'string' },
      retries: { type: 'string' },
      'input-format': { type: 'string' },
      help: HELP,
    },
    help,
  );
  if (input === null) return { kind: 'help', text: INGEST_USAGE };
  const url = text(values, 'url') ?? nonEmpty(env['SESSIONS_URL']) ?? DEFAULT_URL;
  let parsedUrl: URL;
  try {
    parsedUrl = new URL(url);
  } catch {
    throw new UsageError(`--url ${JSON.stringify(url)} is not a URL (e.g. ${DEFAULT_URL})`, help);
  }
  if (parsedUrl.protocol !== 'http:' && parsedUrl.protocol !== 'https:') {
    throw new UsageError(`--url must be http:// or https:// (got ${parsedUrl.protocol}//)`, help);
  }
  const d = INGEST_DEFAULTS;
  return {
    kind: 'ingest',
    input,
    url,
    key: text(values, 'key') ?? nonEmpty(env['SESSIONS_API_KEY']) ?? null,
    batchSize: integer(values, 'batch', d.batch, 1, MAX_BATCH, help),
    concurrency: integer(values, 'concurrency', d.concurrency, 1, MAX_CONCURRENCY, help),
    retries: integer(values, 'retries', d.retries, 0, MAX_RETRIES, help),
    inputFormat: inputFormat(values, help),
  };
}

function inputFormat(values: Values, help: string): InputFormat {
  const value = text(values, 'input-format') ?? 'events';
  if (!(INPUT_FORMATS as readonly string[]).includes(value)) {
    throw new UsageError(`--input-format must be one of ${INPUT_FORMATS.join(', ')} (got ${JSON.stringify(value)})`, help);
  }
  return value as InputFormat;
}

function text(values: Values, name: string): string | undefined {
  const v = values[name];
  return typeof v === 'string' ? v : undefined;
}

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v.trim() === '' ? undefined : v;
}

function duration(values: Values, name: string, fallback: string, help: string, allowZero: boolean): number {
  return durationText(name, text(values, name) ?? fallback, help, allowZero);
}

function durationText(name: string, value: string, help: string, allowZero: boolean): number {
  const ms = parseDurationMs(value);
  if (ms === null || (!allowZero && ms === 0)) {
    const extra = name === 'lateness' ? ', or unlimited' : '';
    throw new UsageError(
      `--${name} ${JSON.stringify(value)} is not a ${allowZero ? '' : 'positive '}duration (500ms, 30s, 15m, 24h, 7d, or seconds${extra})`,
      help,
    );
  }
  return ms;
}

function integer(values: Values, name: string, fallback: number, min: number, max: number, help: string): number {
  const raw = text(values, name);
  if (raw === undefined) return fallback;
  const n = /^\d+$/.test(raw.trim()) ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(`--${name} must be a whole number from ${min} to ${max} (got ${JSON.stringify(raw)})`, help);
  }
  return n;
}
