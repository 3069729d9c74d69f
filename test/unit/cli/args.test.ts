import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { DEFAULT_URL, parseCommand, UsageError } from '../../../src/cli/args.ts';
import { ExitCode } from '../../../src/cli/exit-code.ts';
import { main } from '../../../src/cli/main.ts';

function usageError(argv: string[]): UsageError {
  try {
    parseCommand(argv);
  } catch (error) {
    if (error instanceof UsageError) return error;
    throw error;
  }
  throw new Error(`expected a usage error for ${JSON.stringify(argv)}`);
}

describe('parseCommand: sessionize', () => {
  it('applies the documented defaults', () => {
    expect(parseCommand(['sessionize', 'events.jsonl'])).toEqual({
      kind: 'sessionize',
      input: 'events.jsonl',
      rules: {
        gapMs: 1_800_000,
        maxDurationMs: 86_400_000,
        conversionEvents: new Set(['purchase']),
        engagedMinDurationMs: 10_000,
        engagedMinEvents: 2,
      },
      latenessMs: 300_000,
      maxFutureSkewMs: 300_000,
      format: 'jsonl',
      inputFormat: 'events',
      definitionsFile: null,
    });
  });

  it('takes --input-format segment, and refuses an unknown input format', () => {
    expect(parseCommand(['sessionize', 'f.jsonl', '--input-format', 'segment'])).toMatchObject({ inputFormat: 'segment' });
    expect(parseCommand(['ingest', 'f.jsonl', '--input-format', 'segment'])).toMatchObject({ inputFormat: 'segment' });
    expect(() => parseCommand(['sessionize', 'f.jsonl', '--input-format', 'csv'])).toThrow(/--input-format must be one of events, segment/);
  });

  it('takes a definitions file with --definitions', () => {
    const cmd = parseCommand(['sessionize', 'f.jsonl', '--definitions', 'defs.json'], {});
    expect(cmd).toMatchObject({ kind: 'sessionize', definitionsFile: 'defs.json' });
  });

  it('reads durations as the service does: 30s, 15m, 24h, 500ms, plain seconds', () => {
    const cmd = parseCommand([
      'sessionize',
      '-',
      '--gap',
      '30s',
      '--max-duration=2h',
      '--lateness',
      '90',
      '--engaged-min-duration',
      '500ms',
      '--engaged-min-events',
      '3',
      '--conversion-events',
      'purchase, signup,',
      '--format',
      'csv',
    ]);
    expect(cmd).toMatchObject({
      input: '-',
      rules: { gapMs: 30_000, maxDurationMs: 7_200_000, engagedMinDurationMs: 500, engagedMinEvents: 3 },
      latenessMs: 90_000,
      format: 'csv',
    });
    expect(cmd.kind === 'sessionize' && [...cmd.rules.conversionEvents]).toEqual(['purchase', 'signup']);
  });

  it('takes --lateness unlimited and --lateness 0', () => {
    expect(parseCommand(['sessionize', 'f', '--lateness', 'unlimited'])).toMatchObject({ latenessMs: Infinity });
    expect(parseCommand(['sessionize', 'f', '--lateness', '0'])).toMatchObject({ latenessMs: 0 });
  });

  it.each([
    [['sessionize', 'f', '--gap', 'soon'], '--gap "soon" is not a positive duration'],
    [['sessionize', 'f', '--gap', '0'], '--gap "0" is not a positive duration'],
    [['sessionize', 'f', '--gap', '-5s'], "argument is ambiguous"],
    [['sessionize', 'f', '--gap', '1h', '--max-duration', '30m'], '--max-duration must be longer than --gap'],
    [['sessionize', 'f', '--lateness', 'forever'], 'or unlimited'],
    [['sessionize', 'f', '--format', 'xml'], '--format must be one of json, jsonl, csv'],
    [['sessionize', 'f', '--engaged-min-events', '0'], '--engaged-min-events must be a whole number from 1'],
    [['sessionize', 'f', '--bogus'], "Unknown option '--bogus'"],
    [['sessionize'], 'missing input'],
    [['sessionize', 'a', 'b'], 'one input only'],
    [['sessionize', 'f', '--gap'], "Option '--gap <value>' argument missing"],
  ])('refuses %j', (argv, message) => {
    const error = usageError(argv);
    expect(error.message).toContain(message);
    expect(error.help).toBe('sessions sessionize --help');
  });
});

describe('parseCommand: ingest', () => {
  it('applies the documented defaults', () => {
    expect(parseCommand(['ingest', 'f.jsonl'])).toEqual({
      kind: 'ingest',
      input: 'f.jsonl',
      url: DEFAULT_URL,
      key: null,
      batchSize: 1_000,
      concurrency: 4,
      retries: 8,
      inputFormat: 'events',
    });
  });

  it('takes options, and the url and key from the environment when not given', () => {
    expect(
      parseCommand(['ingest', '-', '--url', 'https://example.com/graphql', '--key', 'k1', '--batch', '250', '--concurrency', '8', '--retries', '0']),
    ).toMatchObject({ url: 'https://example.com/graphql', key: 'k1', batchSize: 250, concurrency: 8, retries: 0 });
    expect(parseCommand(['ingest', '-'], { SESSIONS_URL: 'http://h:1/graphql', SESSIONS_API_KEY: 'k2' })).toMatchObject({
      url: 'http://h:1/graphql',
      key: 'k2',
    });
    expect(parseCommand(['ingest', '-', '--key', 'k3'], { SESSIONS_API_KEY: 'k2' })).toMatchObject({ key: 'k3' });
  });

  it.each([
    [['ingest', 'f', '--batch', '0'], '--batch must be a whole number from 1 to 1000000'],
    [['ingest', 'f', '--batch', '1e3'], '--batch must be a whole number'],
    [['ingest', 'f', '--concurrency', '65'], '--concurrency must be a whole number from 1 to 64'],
    [['ingest', 'f', '--url', 'localhost:4000'], '--url must be http:// or https://'],
    [['ingest', 'f', '--url', 'not a url'], 'is not a URL'],
    [['ingest', 'f', '--gap', '30s'], "Unknown option '--gap'"],
  ])('refuses %j', (argv, message) => {
    const error = usageError(argv);
    expect(error.message).toContain(message);
    expect(error.help).toBe('sessions ingest --help');
  });
});

describe('parseCommand: the command', () => {
  it('answers help', () => {
    expect(parseCommand(['--help'])).toMatchObject({ kind: 'help' });
    expect(parseCommand(['help'])).toMatchObject({ kind: 'help' });
    const help = parseCommand(['ingest', '--help']);
    expect(help.kind === 'help' && help.text).toContain('sessions ingest FILE.jsonl|-');
    expect(parseCommand(['sessionize', '-h'])).toMatchObject({ kind: 'help' });
  });

  it('refuses a missing or unknown command', () => {
    expect(usageError([]).message).toBe('missing command');
    expect(usageError(['sessionise', 'f']).message).toBe('unknown command "sessionise"');
  });
});

describe('main', () => {
  function io() {
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    let out = '';
    let err = '';
    stdout.on('data', (b: Buffer) => (out += b.toString()));
    stderr.on('data', (b: Buffer) => (err += b.toString()));
    return { io: { stdin: new PassThrough(), stdout, stderr, env: {} }, out: () => out, err: () => err };
  }

  it('exits 2 with the message and where the help is on a usage error', async () => {
    const t = io();
    expect(await main(['sessionize', 'f', '--gap', 'x'], t.io)).toBe(ExitCode.Usage);
    expect(t.err()).toBe('sessions: --gap "x" is not a positive duration (500ms, 30s, 15m, 24h, 7d, or seconds)\nRun "sessions sessionize --help" for usage.\n');
  });

  it('prints help on stdout and exits 0', async () => {
    const t = io();
    expect(await main(['--help'], t.io)).toBe(ExitCode.Ok);
    expect(t.out()).toContain('usage: sessions <command>');
  });

  it('exits 1 on an input it cannot read', async () => {
    const t = io();
    expect(await main(['sessionize', '/nonexistent/events.jsonl'], t.io)).toBe(ExitCode.Failure);
    expect(t.err()).toBe('sessions sessionize: error: cannot read /nonexistent/events.jsonl: no such file\n');
  });
});
