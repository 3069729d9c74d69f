/**
 * The session writer encodes bytes itself: its output must be, byte for
 * byte, what JSON.stringify, Date.toISOString and RFC 4180 quoting make of
 * the same values, for awkward text (quotes, backslashes, control
 * characters, non-ASCII, surrogate pairs, commas, line breaks), numbers
 * (fractions, negatives, large) and dates, in every format, across buffer
 * boundaries. The ids are checked for their form and consistency here
 * (session-id.test.ts checks them further), then left out of the comparison.
 */
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { SessionWriter, type OutputFormat } from '../../../src/cli/session-output.ts';
import type { ClosedSession } from '../../../src/sessionizer/closed-session.ts';
import { rng } from '../../helpers/random.ts';

const TEXTS = ['view', '1', 'u-7', 'a"b', 'a\\b', 'tab\there', 'line\nbreak', 'cr\rx', 'x\u0001\u001f', 'a,b', 'Café', '☃', '😀 ok', '\u2028', '"', ''];
const NUMBERS = [0, 1, 7, 42, 999_999_999, 1_000_000_000, 12.5, 0.001, -3, -0.25, 1e21, 123_456_789_012];
const DATES = [Date.UTC(2016, 10, 8, 14, 9, 57, 250), Date.UTC(2016, 10, 8, 23, 59, 59, 999), 0, Date.UTC(1969, 11, 31, 23, 0, 0), Date.UTC(2099, 0, 1), 9e15 / 2];

function randomSession(random: () => number): ClosedSession {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)] as T;
  const names: Array<string | number> = [];
  for (let i = Math.floor(random() * 3) + 1; i > 0; i--) names.push(pick(TEXTS), pick(NUMBERS));
  const channels: Array<string | number> = [];
  for (let i = Math.floor(random() * 3); i > 0; i--) channels.push(pick(TEXTS), pick(NUMBERS), 0, 'e');
  const startedAt = pick(DATES);
  return {
    userId: pick(TEXTS),
    startedAt,
    endedAt: startedAt + pick([0, 1, 999, 30_000, 86_399_999]),
    durationMs: pick(NUMBERS) * 1000 + pick([0, 1, 250]),
    eventCount: pick(NUMBERS),
    names,
    channels,
    topChannel: channels.length === 0 ? null : (channels[0] as string),
    topChannelCount: channels.length === 0 ? null : (channels[1] as number),
    totalValue: pick(NUMBERS),
    converted: random() < 0.5,
    engaged: random() < 0.5,
    bounced: random() < 0.5,
    firstEventName: pick(TEXTS),
    lastEventName: pick(TEXTS),
    closeReason: pick(['INACTIVITY', 'MAX_DURATION', 'FLUSH'] as const),
  };
}

/** Stands for each session's id in the reference text. */
const ID = '00000000-0000-8000-8000-000000000000';
const VERSION_8 = /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/**
 * The output with each session's id replaced by ID (an id opens every
 * session: after `{"id":"` in JSON, first in a CSV row), once the ids are
 * checked: version 8 UUIDs, the same for sessions of the same user and
 * start, different otherwise.
 */
function withoutIds(text: string, sessions: readonly ClosedSession[]): string {
  const ids: string[] = [];
  const out = text.replace(/^(\{"id":"|)([0-9a-f-]{36})(?=[",])/gm, (_m, before: string, id: string) => {
    ids.push(id);
    return `${before}${ID}`;
  });
  expect(ids).toHaveLength(sessions.length);
  const byKey = new Map<string, string>();
  sessions.forEach((s, i) => {
    const id = ids[i] as string;
    expect(id).toMatch(VERSION_8);
    const key = JSON.stringify([s.userId, s.startedAt]);
    expect(byKey.get(key) ?? id).toBe(id);
    byKey.set(key, id);
  });
  expect(new Set(ids).size).toBe(byKey.size);
  return out;
}

/** The reference: every value through JSON.stringify (counts in list order). */
function countsText(list: ReadonlyArray<string | number>, stride: number): string {
  const pairs: string[] = [];
  for (let i = 0; i < list.length; i += stride) pairs.push(`${JSON.stringify(list[i])}:${JSON.stringify(list[i + 1])}`);
  return `{${pairs.join(',')}}`;
}

function fields(s: ClosedSession): Array<[string, string]> {
  const j = JSON.stringify;
  return [
    ['id', j(ID)],
    ['userId', j(s.userId)],
    ['status', j('CLOSED')],
    ['startedAt', j(new Date(s.startedAt).toISOString())],
    ['endedAt', j(new Date(s.endedAt).toISOString())],
    ['durationSeconds', j(s.durationMs / 1000)],
    ['eventCount', j(s.eventCount)],
    ['eventCounts', countsText(s.names, 2)],
    ['topChannel', j(s.topChannel)],
    ['topChannelCount', j(s.topChannelCount)],
    ['channels', countsText(s.channels, 4)],
    ['totalValue', j(s.totalValue)],
    ['converted', j(s.converted)],
    ['engaged', j(s.engaged)],
    ['bounced', j(s.bounced)],
    ['firstEventName', j(s.firstEventName)],
    ['lastEventName', j(s.lastEventName)],
    ['closeReason', j(s.closeReason)],
  ];
}

const jsonText = (s: ClosedSession): string => `{${fields(s).map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`;

function csvText(s: ClosedSession): string {
  const cell = (t: string): string => (/[",\r\n]/.test(t) ? `"${t.replace(/"/g, '""')}"` : t);
  return fields(s)
    .map(([k, v]) => {
      if (v === 'null') return '';
      const plain = k === 'eventCounts' || k === 'channels' ? v : typeof JSON.parse(v) === 'string' ? (JSON.parse(v) as string) : v;
      return cell(plain);
    })
    .join(',');
}

async function written(sessions: ClosedSession[], format: OutputFormat): Promise<Buffer> {
  const out = new PassThrough();
  const parts: Buffer[] = [];
  out.on('data', (b: Buffer) => parts.push(b));
  const writer = new SessionWriter(out, format);
  for (const s of sessions) writer.write(s);
  await writer.end();
  return Buffer.concat(parts);
}

describe('SessionWriter', () => {
  const random = rng(7);
  // Enough sessions to fill several buffers.
  const sessions = Array.from({ length: 8_000 }, () => randomSession(random));

  it('writes jsonl and json byte for byte as JSON.stringify would', async () => {
    const jsonl = withoutIds((await written(sessions, 'jsonl')).toString(), sessions);
    expect(jsonl).toBe(sessions.map((s) => `${jsonText(s)}\n`).join(''));
    const json = withoutIds((await written(sessions, 'json')).toString(), sessions);
    expect(json).toBe(`[\n${sessions.map(jsonText).join(',\n')}\n]\n`);
    expect((await written([], 'json')).toString()).toBe('[]\n');
  });

  it('writes csv with RFC 4180 quoting, counts as JSON text and null as an empty cell', async () => {
    const header = `${fields(sessions[0] as ClosedSession).map(([k]) => k).join(',')}\n`;
    const csv = withoutIds((await written(sessions, 'csv')).toString(), sessions);
    expect(csv).toBe(header + sessions.map((s) => `${csvText(s)}\n`).join(''));
  });
});
