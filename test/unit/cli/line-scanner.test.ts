/**
 * The line scanner against the general path (JSON.parse, the mapping, the
 * service's checks): on every line it takes, it must give the same event
 * (its properties as their text, which parses to the general path's) or
 * the same coded refusal, message included; the lines it leaves must be the
 * unusual ones. Lines are generated (keys in any order, aliases, whitespace,
 * escapes, numbers, nested and repeated properties, wrong types) and then
 * damaged at random, so invalid JSON of every kind is met too.
 */
import { describe, expect, it } from 'vitest';
import type { CheckedEvent } from '../../../src/ingest/validate.ts';
import { readLine, type LineRefusal, type LineSink } from '../../../src/cli/line-events.ts';
import { scanLine } from '../../../src/cli/line-scanner.ts';
import { rng } from '../../helpers/reference.ts';

const LIMITS = { nowMs: Date.parse('2030-01-01T00:00:00Z'), maxFutureSkewMs: 300_000 };

type Outcome = { event: CheckedEvent } | { refusal: LineRefusal } | null;

function collect(): { sink: LineSink; outcome: () => Outcome } {
  let outcome: Outcome = null;
  return {
    sink: {
      event: (event) => void (outcome = { event }),
      refuse: (refusal) => void (outcome = { refusal }),
    },
    outcome: () => outcome,
  };
}

function general(text: string): Outcome {
  const c = collect();
  readLine(text, 1, LIMITS, c.sink);
  return c.outcome();
}

/** The scanner's outcome, or 'left' when it leaves the line to the general path. */
function scanned(text: string, limits = LIMITS): Outcome | 'left' {
  const c = collect();
  // Inside a larger text, as readLines hands it: the scanner must stay within [from, to).
  const padded = `{"x":1}\n${text}\r\n{"y":2}`;
  return scanLine(padded, 8, 8 + text.length, 1, limits, c.sink) ? c.outcome() : 'left';
}

/**
 * An outcome with its properties in canonical form and no attribution: the
 * scanner keeps the properties' text as the line has it, and the file
 * commands read no attribution (docs/cli.md).
 */
function canonical(o: Outcome): Outcome;
function canonical(o: Outcome | 'left'): Outcome | 'left';
function canonical(o: Outcome | 'left'): Outcome | 'left' {
  if (o === null || o === 'left' || !('event' in o)) return o;
  const p = o.event.properties;
  return { event: { ...o.event, properties: p === null ? null : JSON.stringify(JSON.parse(p)), attribution: null } };
}

const pick = <T>(random: () => number, xs: readonly T[]): T => xs[Math.floor(random() * xs.length)] as T;

/** A random line: members of every kind in a random order, joined with random whitespace. */
function randomLine(random: () => number): string {
  const ws = (): string => pick(random, ['', '', ' ', '  ', '\t', ' \r ']);
  const str = (): string =>
    JSON.stringify(pick(random, ['1', 'u-7', 'send_message', 'Café', 'a"b', 'a\\b', 'tab\there', 'x\u0000', '', '  ', '☃', 'v'.repeat(300)]));
  const escaped = (): string => pick(random, ['"caf\\u00e9"', '"\\ud83d\\ude00"', '"\\ud800"', '"a\\/b"', '"bad\\x"']);
  const num = (): string => pick(random, ['1', '-0', '0', '42', '1.5', '1e2', '1E+2', '-12.25e-1', '1478614197', '1478614197123', '1478614197.5', '1e400', '01', '1.', '-', '2e']);
  const iso = (): string =>
    JSON.stringify(pick(random, ['2016-11-08T14:09:57Z', '2016-11-08T14:09:57.250+02:00', '2016-11-08 14:09:57', '2016-02-30T00:00:00Z', '2031-01-01T00:00:00Z', 'soon', '1478614197']));
  const scalar = (): string => pick(random, [str(), num(), 'null', 'true', 'false', escaped()]);
  const nested = (): string =>
    pick(random, ['{"page":{"path":"/p/1","title":"Caf\\u00e9 \\"1\\" ü"},"tags":["a","b"],"ref":null}', '[1,2,{"a":[]}]', '{}', '[]', '{"url":"https://x.test/a?utm_source=n"}', '{"a":"\\u0000"}', `${'['.repeat(40)}${']'.repeat(40)}`, '{"a":1,"a":2}', '{"2":1,"1":0}']);
  const keys: Array<[string, () => string]> = [
    ['event_name', () => pick(random, [str(), num(), 'null', nested()])],
    ['name', () => pick(random, [str(), 'null', 'true'])],
    ['event_type', str],
    ['timestamp', () => pick(random, [iso(), num(), 'null', nested()])],
    ['ts', num],
    ['time', () => pick(random, [num(), iso()])],
    ['user_id', () => pick(random, [str(), num(), 'null', nested(), escaped()])],
    ['userId', str],
    ['channel_id', () => pick(random, [str(), num(), 'null'])],
    ['channelId', str],
    ['value', () => pick(random, [num(), JSON.stringify('12.5'), '"lots"', '" "', 'null'])],
    ['purchase_value', num],
    ['event_id', () => pick(random, [str(), num()])],
    ['id', str],
    ['properties', nested],
    ['app', nested],
    ['hint', scalar],
    ['2', scalar],
    ['__proto__', nested],
    ['k\\u0065y', scalar],
  ];
  // Mostly a good value, so that many lines are valid events; otherwise anything.
  const good: Record<string, () => string> = {
    event_name: () => JSON.stringify(pick(random, ['send_message', 'Café ☃', 'a"b'])),
    timestamp: () => pick(random, ['"2016-11-08T14:09:57Z"', '"2016-11-08T14:09:57.250+02:00"', '1478614197123', '1478614197.5']),
    user_id: () => pick(random, ['"1"', '"u-7"', '42', '"caf\\u00e9"']),
  };
  const members: string[] = [];
  const n = 3 + Math.floor(random() * 6);
  for (let i = 0; i < n; i++) {
    const [key, value] = i < 3 ? (keys[[6, 0, 3][i] as number] as [string, () => string]) : pick(random, keys);
    const v = Object.hasOwn(good, key) && random() < 0.8 ? (good[key] as () => string)() : value();
    members.push(`${ws()}"${key}"${ws()}:${ws()}${v}${ws()}`);
  }
  for (let i = members.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [members[i], members[j]] = [members[j] as string, members[i] as string];
  }
  return `${ws()}{${members.join(',')}}${ws()}`;
}

/** The line damaged: a character dropped, doubled or replaced, or the line cut. */
function damaged(text: string, random: () => number): string {
  const at = Math.floor(random() * text.length);
  switch (Math.floor(random() * 4)) {
    case 0:
      return text.slice(0, at) + text.slice(at + 1);
    case 1:
      return text.slice(0, at) + text.charAt(at) + text.slice(at);
    case 2:
      return text.slice(0, at) + pick(random, ['"', '{', '}', ',', ':', '\\', '[', ']', 'x', '\u0001']) + text.slice(at + 1);
    default:
      return text.slice(0, at);
  }
}

describe('the line scanner', () => {
  it('gives the general path\'s event or refusal on every line it takes', () => {
    const random = rng(15);
    let taken = 0;
    let valid = 0;
    let withProperties = 0;
    for (let i = 0; i < 20_000; i++) {
      const clean = randomLine(random);
      const text = random() < 0.3 ? damaged(clean, random) : clean;
      const want = canonical(general(text));
      const got = scanned(text);
      if (got === 'left') continue;
      taken++;
      expect({ text, got: canonical(got) }).toEqual({ text, got: want });
      if (want !== null && 'event' in want) {
        valid++;
        if (want.event.properties !== null) withProperties++;
      }
    }
    expect(valid).toBeGreaterThan(1_000);
    expect(withProperties).toBeGreaterThan(500);
    expect(taken).toBeGreaterThan(5_000);
  });

  it('takes the usual export lines itself, properties that differ on every line too', () => {
    const lines = [
      '{"event_name": "send_message", "timestamp": "2016-11-08T14:09:57Z", "user_id": "1", "channel_id": "1"}',
      '{"event_id":"ev-1","user_id":"u1","channel_id":"c1","timestamp":"2016-11-08T01:00:00.098+01:00","event_name":"purchase","purchase_value":12.5}',
      '{"ts":1478563201888,"user_id":738,"event_type":"send_message","channel_id":78,"properties":{"page":{"path":"/p/91","title":"Caf\\u00e9 \\"5\\" ü"},"tags":["a","b"],"ref":null}}',
      '{"user_id":"9787","session_hint":null,"app":{"v":"1.2"},"time":1478563204.25,"name":"send_message","channelId":"150","value":"12.5"}',
      '{"user_id": "1", "name": "bad", "timestamp": "2016-02-30T00:00:00Z"}',
      '{"type":"track","event":"view","userId":"user-7","timestamp":"2016-11-08T14:09:57.125Z","properties":{"url":"https://shop.example/p/1?ref=c1","title":"Item 1 \\u2013 Caf\\u00e9 😀","price":1.5},"context":{"ip":"10.0.7.1"},"messageId":"m-1"}',
    ];
    for (const text of lines) {
      const got = scanned(text);
      expect(got).not.toBe('left');
      expect(canonical(got)).toEqual(canonical(general(text)));
    }
  });

  it('reads a value string as a decimal number, and no other string as a number', () => {
    const valueOf = (value: string): number | string | null => {
      const got = scanned(`{"user_id":"u","name":"buy","timestamp":"2016-11-08T14:09:57Z","value":${JSON.stringify(value)}}`);
      expect(canonical(got)).toEqual(canonical(general(`{"user_id":"u","name":"buy","timestamp":"2016-11-08T14:09:57Z","value":${JSON.stringify(value)}}`)));
      if (got === 'left' || got === null) throw new Error(`no outcome for ${value}`);
      return 'event' in got ? got.event.value : got.refusal.code;
    };
    expect(valueOf('12.50')).toBe(12.5);
    expect(valueOf(' -3e2 ')).toBe(-300);
    expect(valueOf('.5')).toBe(0.5);
    expect(valueOf('+7.')).toBe(7);
    expect(valueOf('  ')).toBeNull();
    for (const notDecimal of ['0x10', '0b1', '0o7', 'Infinity', '12abc', '1,5', '1_000']) expect(valueOf(notDecimal)).toBe('VALUE_NOT_FINITE');
  });

  it('reads integer ids beyond 2^53 as they are written, where the general path refuses rather than round them', () => {
    const text =
      '{"user_id": 1234567890123456789, "event": 98765432109876543210, "channel_id": 9007199254740993, "event_id": -0, "ts": 1478614197000}';
    const got = scanned(text);
    expect(got).toMatchObject({
      event: { userId: '1234567890123456789', name: '98765432109876543210', channelId: '9007199254740993', eventId: '0' },
    });
    // JSON.parse reads 1234567890123456789 as 1234567890123456800: the general path refuses the line.
    expect(general(text)).toMatchObject({ refusal: { code: 'INVALID_FIELD' } });
    // A line the scanner leaves (a repeated key) is refused, not merged into another user.
    const repeated = '{"user_id": 1234567890123456789, "user_id": 1234567890123456789, "event": "a", "ts": 1478614197000}';
    expect(scanned(repeated)).toBe('left');
    expect(general(repeated)).toMatchObject({ refusal: { code: 'INVALID_FIELD' } });
    // Written with a fraction or an exponent, such an id cannot be read exactly: left to the general path, refused there.
    for (const id of ['12345678901234567891.0', '1e21', '1.5e300']) {
      const line = `{"user_id": ${id}, "event": "a", "ts": 1478614197000}`;
      expect(scanned(line)).toBe('left');
      expect(general(line)).toMatchObject({ refusal: { code: 'INVALID_FIELD' } });
    }
    // Within 2^53, and numbers that are not integers, both read the same.
    for (const id of ['9007199254740991', '-42', '1.50', '1e2', '-0.0', '1e-7', '123456.789']) {
      const line = `{"user_id": ${id}, "event": "a", "ts": 1478614197000}`;
      expect(canonical(scanned(line))).toEqual(canonical(general(line)));
    }
  });

  it('leaves properties it cannot vouch for to the general path, which judges them', () => {
    const line = (members: string): string => `{"event":"view","userId":"u1","timestamp":"2016-11-08T14:09:57Z",${members}}`;
    // [members, what the general path says: an event (null) or the refusal's code]
    const cases: Array<[string, string | null]> = [
      [`"deep":${'['.repeat(32)}${']'.repeat(32)}`, 'PROPERTIES_TOO_LARGE'],
      ['"note":"a\\u0000b"', 'INVALID_FIELD'],
      ['"note":"\\udc00"', 'INVALID_FIELD'],
      ['"note":"\\ud83d\\ude00"', null], // a pair: allowed
      ['"n":1e2', null],
      ['"a":1,"a":"\\u0000"', 'INVALID_FIELD'],
    ];
    for (const [members, code] of cases) {
      const text = line(members);
      expect(scanned(text)).toBe('left');
      const want = general(text);
      if (code === null) expect(want).toHaveProperty('event');
      else expect(want).toMatchObject({ refusal: { code } });
    }
    // 32 levels with the properties object: allowed, and taken.
    const deepest = line(`"deep":${'['.repeat(31)}${']'.repeat(31)}`);
    expect(canonical(scanned(deepest))).toEqual(canonical(general(deepest)));
    expect(general(deepest)).toHaveProperty('event');
  });

  it('takes properties up to a third of the size limit, and leaves larger ones to the general path', () => {
    const limits = { ...LIMITS, maxPropertiesBytes: 300 };
    const line = (chars: number): string => `{"event":"view","userId":"u1","timestamp":"2016-11-08T14:09:57Z","p":"${'é'.repeat(chars)}"}`;
    // {"p":"..."}: 8 characters around the text; é is 2 bytes of UTF-8.
    expect(canonical(scanned(line(92), limits))).toEqual(canonical(general(line(92))));
    expect(scanned(line(93), limits)).toBe('left');
    const general300 = (chars: number): Outcome => {
      const c = collect();
      readLine(line(chars), 1, limits, c.sink);
      return c.outcome();
    };
    expect(general300(146)).toHaveProperty('event'); // 8 + 292 = 300 bytes
    expect(general300(147)).toMatchObject({ refusal: { code: 'PROPERTIES_TOO_LARGE' } });
  });
});
