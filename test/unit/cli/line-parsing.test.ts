import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FlatObjectScanner } from '../../../src/cli/byte-scanner.ts';
import { emptyLineFields, LineRejection, mapFields, type LineFields } from '../../../src/cli/event-line.ts';
import { FieldValues } from '../../../src/cli/field-values.ts';
import { LineParser, parseObject } from '../../../src/cli/json-line.ts';
import { parseTimestamp } from '../../../src/cli/timestamp.ts';

const RUNS = Number(process.env['PROP_RUNS'] ?? 500);

/** One parser for all lines, as for a file: its caches carry over from line to line. */
const parser = new LineParser();

/** The event's fields (the interner ids aside: only the fast path has them). */
function eventFields(f: LineFields): Omit<LineFields, 'userRef' | 'nameRef' | 'channelRef'> {
  const { userRef: _u, nameRef: _n, channelRef: _c, ...rest } = f;
  return rest;
}

/** What a line maps to, through the fast path or JSON.parse. */
function viaBytes(text: string): unknown {
  const buf = Buffer.from(`  ${text}\n`); // not at offset 0, and a line break after it
  const refused = parser.readBytes(buf, 2, buf.length - 1);
  if (refused === null && parser.fields.userRef >= 0) expect(parser.strings.byId[parser.fields.userRef]).toBe(parser.fields.userId);
  return refused ?? eventFields(parser.fields);
}

function viaJsonParse(text: string): unknown {
  const obj = parseObject(text);
  if (obj instanceof LineRejection) return obj;
  const fields = emptyLineFields();
  return mapFields(new FieldValues().fillFrom(obj), fields) ?? eventFields(fields);
}

const keyArb = fc.constantFrom(
  'name',
  'event_name',
  'event_type',
  'event',
  'userId',
  'user_id',
  'channelId',
  'channel_id',
  'timestamp',
  'ts',
  'time',
  'event_time',
  'value',
  'purchase_value',
  'eventId',
  'event_id',
  'id',
  'other',
  'nested',
);
/** Timestamp text near the usual form: valid, invalid, odd separators, fractions, offsets. */
const timeTextArb = fc
  .tuple(
    fc.integer({ min: 1960, max: 2100 }),
    fc.integer({ min: 0, max: 13 }),
    fc.integer({ min: 0, max: 32 }),
    fc.integer({ min: 0, max: 24 }),
    fc.integer({ min: 0, max: 60 }),
    fc.constantFrom('T', 't', ' ', 'x'),
    fc.constantFrom('', '.5', '.123', '.123456789', '.', '.x'),
    fc.constantFrom('', 'Z', 'z', '+02:00', '-05:30', '+24:00', '+0200', 'ZZ'),
  )
  .map(([y, mo, d, h, m, sep, frac, off]) => {
    const p = (n: number): string => String(n).padStart(2, '0');
    return `${y}-${p(mo)}-${p(d)}${sep}${p(h)}:${p(m)}:${p(m)}${frac}${off}`;
  });

const valueArb = fc.oneof(
  timeTextArb,
  fc.constantFrom('2016-11-08T14:09:57Z', '2016-11-08T14:09:57.123+02:00', '1478614197', 'x', '', ' ', 'é ü', '"quoted"', 'a\\b'),
  fc.string({ maxLength: 8 }),
  fc.constantFrom(1478614197, 1478614197123, 0, -1, 1.5, 1e300, true, false, null),
  fc.constantFrom({ a: 1 }, [1, 2]),
);

describe('line parsing', () => {
  it('gives the same fields through the byte scanner as through JSON.parse, for any flat or nested object', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(keyArb, valueArb), { maxLength: 8 }), fc.constantFrom('', ' ', '\t'), (entries, space) => {
        const text = `{${space}${entries.map(([k, v]) => `${JSON.stringify(k)}${space}:${space}${JSON.stringify(v)}`).join(`,${space}`)}${space}}`;
        expect(viaBytes(text)).toEqual(viaJsonParse(text));
      }),
      { numRuns: RUNS },
    );
  });

  it('gives the same fields for runs of lines of one shape (read straight into the fields) as through JSON.parse', () => {
    const TIME_KEYS = ['timestamp', 'ts', 'time', 'event_time'];
    const stringArb = fc.oneof(
      timeTextArb,
      fc.constantFrom('2016-11-08T14:09:57Z', '1478614197', '1', '9.99', 'x', '', ' ', ' x', 'é ü', 'a\\b', '"q"', 'x'.repeat(257)),
      fc.string({ maxLength: 8 }),
    );
    // Mostly what files hold, so that runs of lines read straight into the fields are common.
    const textArb = (key: string): fc.Arbitrary<string> =>
      fc.oneof(
        { arbitrary: TIME_KEYS.includes(key) ? fc.constantFrom('2016-11-08T14:09:57Z', '2016-11-08T14:09:58.5+02:00') : fc.constantFrom('1', '42', 'send_message', 'u-7'), weight: 4 },
        { arbitrary: stringArb, weight: 1 },
      );
    const otherArb = fc.constantFrom<unknown>(1478614197, 1478614197123, 0, -1, 1.5, 1e300, Number.POSITIVE_INFINITY, true, false, null);
    /** One line: per key, its text or another value as `kinds` says. */
    const lineArb = (keys: ReadonlyArray<readonly [string, boolean]>): fc.Arbitrary<string> =>
      fc.tuple(...keys.map(([k, text]) => (text ? textArb(k) : otherArb))).map(
        (values) =>
          `{${keys.map(([k], i) => `${JSON.stringify(k)}: ${values[i] === Number.POSITIVE_INFINITY ? '1e400' : JSON.stringify(values[i])}`).join(', ')}}`,
      );
    // A name, a user and a time key (the line can be an event) and more keys, in any order, each holding text or not.
    const keysArb = fc
      .tuple(
        fc.constantFrom('name', 'event_name', 'event_type', 'event'),
        fc.constantFrom('userId', 'user_id'),
        fc.constantFrom(...TIME_KEYS),
        fc.array(keyArb, { maxLength: 4 }),
      )
      .chain(([name, user, time, more]) => fc.shuffledSubarray([name, user, time, ...more], { minLength: 3 + more.length }))
      .chain((keys) =>
        fc.tuple(...keys.map((k) => fc.tuple(fc.constant(k), fc.oneof({ arbitrary: fc.constant(true), weight: 4 }, { arbitrary: fc.constant(false), weight: 1 })))),
      );
    const fileArb = keysArb.chain((keys) => fc.array(lineArb(keys), { minLength: 1, maxLength: 12 }));
    fc.assert(
      fc.property(fileArb, (lines) => {
        for (const text of lines) expect(viaBytes(text)).toEqual(viaJsonParse(text));
      }),
      { numRuns: RUNS },
    );
  });

  it('reads lines whose literal bytes cannot be compared as doubles (a NaN pattern) like any other', () => {
    // `", "aa` then 0xf0 0x7f: the first eight bytes after the name's value read as a NaN (not UTF-8 either).
    const key = Buffer.from([0x61, 0x61, 0xf0, 0x7f, 0x62]);
    for (let i = 0; i < 3; i++) {
      const buf = Buffer.concat([
        Buffer.from('{"event_name": "x", "'),
        key,
        Buffer.from(`": ${i}, "timestamp": "2016-11-08T14:09:57Z", "user_id": "u${i}"}`),
      ]);
      const refused = parser.readBytes(buf, 0, buf.length);
      expect(refused).toBeNull();
      expect(eventFields(parser.fields)).toEqual(viaJsonParse(buf.toString('utf8')));
    }
  });

  it('maps the field names of common exports, first alias present winning', () => {
    expect(viaBytes('{"event_name": "send_message", "timestamp": "2016-11-08T14:09:57Z", "user_id": "1", "channel_id": "1"}')).toEqual({
      userId: '1',
      name: 'send_message',
      ts: Date.parse('2016-11-08T14:09:57Z'),
      channelId: '1',
      value: null,
      eventId: null,
    });
    expect(viaBytes('{"event_type": "purchase", "time": 1478614197, "userId": 42, "purchase_value": "9.99", "event_id": 7}')).toEqual({
      userId: '42',
      name: 'purchase',
      ts: 1_478_614_197_000,
      channelId: null,
      value: 9.99,
      eventId: '7',
    });
    expect(viaBytes('{"name": "a", "event_name": "b", "ts": 1478614197123, "user_id": "u", "channel_id": null}')).toMatchObject({
      name: 'a',
      ts: 1_478_614_197_123,
      channelId: null,
    });
  });

  it.each([
    ['{"event_name": "x", "user_id": "1"}', 'MISSING_FIELD', 'missing timestamp (timestamp, ts, time or event_time)'],
    ['{"event_name": "x", "timestamp": "2016-02-30T00:00:00Z", "user_id": "1"}', 'INVALID_TIMESTAMP', 'timestamp "2016-02-30T00:00:00Z" is not'],
    ['{"event_name": "x", "timestamp": true, "user_id": "1"}', 'INVALID_TIMESTAMP', 'timestamp true'],
    ['{"event_name": "x", "timestamp": 1, "user_id": " "}', 'MISSING_FIELD', 'missing userId'],
    ['{"event_name": "x", "timestamp": 1, "user_id": {"id": 1}}', 'INVALID_FIELD', 'user_id must be a string or a number'],
    ['{"event_name": "x", "timestamp": 1, "user_id": "1", "value": "NaN"}', 'VALUE_NOT_FINITE', 'value must be a finite number'],
    [`{"event_name": "${'x'.repeat(257)}", "timestamp": 1, "user_id": "1"}`, 'FIELD_TOO_LONG', 'event_name is longer than 256'],
    ['{"event_name": "x", "timestamp": 1, "user_id": "1",}', 'INVALID_JSON', 'not JSON'],
    ['[1]', 'INVALID_JSON', 'not a JSON object'],
  ])('refuses %s with %s', (text, code, message) => {
    const refused = viaBytes(text);
    expect(refused).toBeInstanceOf(LineRejection);
    expect(refused).toMatchObject({ code });
    expect((refused as LineRejection).message).toContain(message);
  });
});

describe('parseTimestamp', () => {
  it.each([
    ['2016-11-08T14:09:57Z', '2016-11-08T14:09:57.000Z'],
    ['2016-11-08T14:09:57.123456Z', '2016-11-08T14:09:57.123Z'],
    ['2016-11-08t14:09:57z', '2016-11-08T14:09:57.000Z'],
    ['2016-11-08 14:09:57', '2016-11-08T14:09:57.000Z'],
    ['2016-11-08T16:09:57+02:00', '2016-11-08T14:09:57.000Z'],
    ['2016-11-08T09:09:57.5-05:00', '2016-11-08T14:09:57.500Z'],
    ['2016-02-29T00:00:00Z', '2016-02-29T00:00:00.000Z'],
    ['1478614197', '2016-11-08T14:09:57.000Z'],
    ['1478614197.25', '2016-11-08T14:09:57.250Z'],
    [1478614197, '2016-11-08T14:09:57.000Z'],
    [1478614197123, '2016-11-08T14:09:57.123Z'],
  ])('reads %j', (input, iso) => {
    const ms = parseTimestamp(input);
    expect(ms === null ? null : new Date(ms).toISOString()).toBe(iso);
  });

  it.each(['2015-02-29T00:00:00Z', '2016-11-08T24:00:00Z', '2016-11-08T14:60:00Z', '2016-11-08', '08/11/2016 14:09', '2016-11-08T14:09:57+2:00', '', 'x', Number.NaN, true])(
    'refuses %j',
    (input) => {
      expect(parseTimestamp(input)).toBeNull();
    },
  );
});

describe('FlatObjectScanner', () => {
  it('leaves escapes, nesting and non-JSON to JSON.parse', () => {
    const scanner = new FlatObjectScanner();
    const vals = new FieldValues();
    const scan = (text: string): boolean => scanner.scan(Buffer.from(text), 0, Buffer.byteLength(text), vals);
    expect(scan('{"name": "a", "ts": 1}')).toBe(true);
    expect(scan('{}')).toBe(true);
    expect(scan('{"name": "a\\"b"}')).toBe(false);
    expect(scan('{"name": {"a": 1}}')).toBe(false);
    expect(scan('{"name": "a"} x')).toBe(false);
    expect(scan('{"name": 01}')).toBe(false);
    expect(scan('{"name": "a",}')).toBe(false);
  });
});
