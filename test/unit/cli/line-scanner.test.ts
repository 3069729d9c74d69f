/**
 * The line scanner against the general path (JSON.parse, the mapping, the
 * service's checks): on every line it takes, it must give the same event or
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
function scanned(text: string): Outcome | 'left' {
  const c = collect();
  // Inside a larger text, as readLines hands it: the scanner must stay within [from, to).
  const padded = `{"x":1}\n${text}\r\n{"y":2}`;
  return scanLine(padded, 8, 8 + text.length, 1, LIMITS, c.sink) ? c.outcome() : 'left';
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
  it('gives the general path\'s event or refusal on every line it takes, repeated lines (remembered properties) too', () => {
    const random = rng(15);
    let taken = 0;
    let valid = 0;
    for (let i = 0; i < 20_000; i++) {
      const clean = randomLine(random);
      const text = random() < 0.3 ? damaged(clean, random) : clean;
      const want = general(text);
      for (let pass = 0; pass < 2; pass++) {
        const got = scanned(text);
        if (got === 'left') continue;
        taken++;
        expect({ text, got }).toEqual({ text, got: want });
      }
      if (want !== null && 'event' in want) valid++;
    }
    expect(valid).toBeGreaterThan(1_000);
    expect(taken).toBeGreaterThan(10_000);
  });

  it('takes the usual export lines itself', () => {
    const lines = [
      '{"event_name": "send_message", "timestamp": "2016-11-08T14:09:57Z", "user_id": "1", "channel_id": "1"}',
      '{"event_id":"ev-1","user_id":"u1","channel_id":"c1","timestamp":"2016-11-08T01:00:00.098+01:00","event_name":"purchase","purchase_value":12.5}',
      '{"ts":1478563201888,"user_id":738,"event_type":"send_message","channel_id":78,"properties":{"page":{"path":"/p/91","title":"Caf\\u00e9 \\"5\\" ü"},"tags":["a","b"],"ref":null}}',
      '{"user_id":"9787","session_hint":null,"app":{"v":"1.2"},"time":1478563204.25,"name":"send_message","channelId":"150","value":"12.5"}',
      '{"user_id": "1", "name": "bad", "timestamp": "2016-02-30T00:00:00Z"}',
    ];
    for (const text of lines) {
      const got = scanned(text);
      expect(got).not.toBe('left');
      expect(got).toEqual(general(text));
    }
  });

  it('leaves lines with other members to the general path while their properties differ on every line, and takes them again later', () => {
    const line = (n: number): string =>
      `{"event":"view","userId":"u${n % 50}","timestamp":"2016-11-08T14:09:57.${String(n % 1000).padStart(3, '0')}Z","properties":{"url":"/p/${n}"}}`;
    const mappedOnly = '{"event_name": "send_message", "timestamp": "2016-11-08T14:09:57Z", "user_id": "1", "channel_id": "1"}';
    // Well over one window of lookups, nearly none of them a hit: the cache pauses.
    for (let n = 0; n < 10_000; n++) scanned(line(n));
    for (const n of [10_001, 10_002]) {
      expect(scanned(line(n))).toBe('left');
      expect(general(line(n))).toMatchObject({ event: { properties: `{"properties":{"url":"/p/${n}"}}` } });
    }
    expect(scanned(mappedOnly)).toEqual(general(mappedOnly)); // lines without other members: still scanned
    // The pause ends: repeated properties are taken (and remembered) again, with the general path's outcome.
    let taken = 0;
    for (let n = 0; n < 200_000; n++) {
      const text = line(n % 20);
      const got = scanned(text);
      if (got === 'left') continue;
      taken++;
      if (taken < 50) expect(got).toEqual(general(text));
    }
    expect(taken).toBeGreaterThan(100_000);
  });
});
