import { once } from 'node:events';
import type { Writable } from 'node:stream';
import type { ChannelStat, SessionSnapshot } from '../sessionizer/index.ts';

export type OutputFormat = 'json' | 'jsonl' | 'csv';
export const OUTPUT_FORMATS: readonly OutputFormat[] = ['json', 'jsonl', 'csv'];

/** Output columns, in order: the service's Session fields plus topChannelCount. */
export const SESSION_COLUMNS = [
  'id',
  'userId',
  'status',
  'startedAt',
  'endedAt',
  'durationSeconds',
  'eventCount',
  'eventCounts',
  'topChannel',
  'topChannelCount',
  'channels',
  'totalValue',
  'converted',
  'engaged',
  'bounced',
  'firstEventName',
  'lastEventName',
  'closeReason',
] as const;

/** Characters buffered before a write: few, large writes. */
const FLUSH_CHARS = 1 << 18;

const DAY_MS = 86_400_000;
const TWO_DIGITS = Array.from({ length: 100 }, (_, i) => String(i).padStart(2, '0'));
const THREE_DIGITS = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, '0'));
let isoDay = Number.NaN;
let isoDayPrefix = '';

/**
 * RFC 3339 UTC with milliseconds, as Date.toISOString() writes it, at a
 * fraction of its cost: the date part is cached (sessions close in time order).
 */
export function iso(ms: number): string {
  const day = Math.floor(ms / DAY_MS);
  if (day !== isoDay) {
    const text = new Date(day * DAY_MS).toISOString();
    isoDay = day;
    isoDayPrefix = text.slice(0, text.indexOf('T') + 1);
  }
  let rest = ms - day * DAY_MS;
  const h = Math.floor(rest / 3_600_000);
  rest -= h * 3_600_000;
  const m = Math.floor(rest / 60_000);
  rest -= m * 60_000;
  const sec = Math.floor(rest / 1000);
  const milli = rest - sec * 1000;
  return `${isoDayPrefix}${TWO_DIGITS[h]}:${TWO_DIGITS[m]}:${TWO_DIGITS[sec]}.${THREE_DIGITS[milli]}Z`;
}

/** Characters JSON.stringify escapes (and surrogates, which it may). */
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;
const str = (s: string | null): string => (s === null ? 'null' : NEEDS_ESCAPE.test(s) ? JSON.stringify(s) : `"${s}"`);
const num = (n: number): string => (Number.isFinite(n) ? String(n) : 'null');

/** eventCounts as a JSON object {name: count}, most frequent first, then by name (the API's order). */
function eventCountsJson(counts: Readonly<Record<string, number>>): string {
  const names = Object.keys(counts);
  if (names.length === 1) {
    const name = names[0] as string;
    return `{${str(name)}:${counts[name]}}`;
  }
  names.sort((a, b) => (counts[b] as number) - (counts[a] as number) || (a < b ? -1 : a > b ? 1 : 0));
  let out = '{';
  for (let i = 0; i < names.length; i++) out += `${i === 0 ? '' : ','}${str(names[i] as string)}:${counts[names[i] as string]}`;
  return `${out}}`;
}

/** channels as a JSON object {channelId: count}, in the order first seen (the API's order). */
function channelsJson(channels: Readonly<Record<string, ChannelStat>>): string {
  const ids = Object.keys(channels);
  if (ids.length === 0) return '{}';
  if (ids.length === 1) {
    const id = ids[0] as string;
    return `{${str(id)}:${(channels[id] as ChannelStat).count}}`;
  }
  const firstSeen = (a: string, b: string): number => {
    const x = channels[a] as ChannelStat;
    const y = channels[b] as ChannelStat;
    return x.firstAt - y.firstAt || (x.firstEventId < y.firstEventId ? -1 : x.firstEventId > y.firstEventId ? 1 : 0);
  };
  ids.sort(firstSeen);
  let out = '{';
  for (let i = 0; i < ids.length; i++) out += `${i === 0 ? '' : ','}${str(ids[i] as string)}:${(channels[ids[i] as string] as ChannelStat).count}`;
  return `${out}}`;
}

function topChannelCount(s: SessionSnapshot): number | null {
  return s.topChannel === null ? null : (s.channels[s.topChannel]?.count ?? null);
}

/** One session as a JSON object (one line), fields in SESSION_COLUMNS order. */
export function sessionJson(s: SessionSnapshot): string {
  const top = topChannelCount(s);
  return `{"id":${str(s.id)},"userId":${str(s.userId)},"status":"${s.status}","startedAt":"${iso(s.startedAt)}",\
"endedAt":"${iso(s.endedAt)}","durationSeconds":${num(s.durationMs / 1000)},"eventCount":${s.eventCount},\
"eventCounts":${eventCountsJson(s.eventCounts)},"topChannel":${str(s.topChannel)},\
"topChannelCount":${top === null ? 'null' : top},"channels":${channelsJson(s.channels)},\
"totalValue":${num(s.totalValue)},"converted":${s.converted},"engaged":${s.engaged},"bounced":${s.bounced},\
"firstEventName":${str(s.firstEventName)},"lastEventName":${str(s.lastEventName)},\
"closeReason":${s.closeReason === null ? 'null' : `"${s.closeReason}"`}}`;
}

function csvCell(text: string): string {
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** One session as a CSV row: eventCounts and channels as their JSON text, null as an empty cell. */
export function sessionCsv(s: SessionSnapshot): string {
  const top = topChannelCount(s);
  const cells: Array<string | number | boolean | null> = [
    s.id,
    s.userId,
    s.status,
    iso(s.startedAt),
    iso(s.endedAt),
    num(s.durationMs / 1000),
    s.eventCount,
    eventCountsJson(s.eventCounts),
    s.topChannel,
    top,
    channelsJson(s.channels),
    num(s.totalValue),
    s.converted,
    s.engaged,
    s.bounced,
    s.firstEventName,
    s.lastEventName,
    s.closeReason,
  ];
  return cells.map((c) => (c === null || c === 'null' ? '' : typeof c === 'string' ? csvCell(c) : String(c))).join(',');
}

/**
 * Writes sessions as they become final. jsonl and csv stream a line per
 * session; json streams one array (valid once end() ran). Output is buffered
 * and flush() waits for the stream to drain, so a slow reader slows the
 * input instead of filling memory.
 */
export class SessionWriter {
  private pieces: string[] = [];
  private chars = 0;
  private count = 0;

  constructor(
    private readonly out: Writable,
    private readonly format: OutputFormat,
  ) {
    if (format === 'csv') this.push(`${SESSION_COLUMNS.join(',')}\n`);
    else if (format === 'json') this.push('[');
  }

  get written(): number {
    return this.count;
  }

  write(s: SessionSnapshot): void {
    switch (this.format) {
      case 'jsonl':
        this.push(`${sessionJson(s)}\n`);
        break;
      case 'json':
        this.push(`${this.count === 0 ? '\n' : ',\n'}${sessionJson(s)}`);
        break;
      case 'csv':
        this.push(`${sessionCsv(s)}\n`);
        break;
      default:
        throw new UnreachableCaseError(this.format);
    }
    this.count++;
  }

  private push(text: string): void {
    this.pieces.push(text);
    this.chars += text.length;
  }

  /** Writes the buffer once it is large (or always, with force) and waits while the stream is full. */
  async flush(force = false): Promise<void> {
    if (this.chars === 0 || (!force && this.chars < FLUSH_CHARS)) return;
    // One join makes one flat string: cheaper than growing a string piece by piece.
    const ok = this.out.write(this.pieces.join(''));
    this.pieces = [];
    this.chars = 0;
    if (!ok) await once(this.out, 'drain');
  }

  async end(): Promise<void> {
    if (this.format === 'json') this.push(this.count === 0 ? ']\n' : '\n]\n');
    await this.flush(true);
  }
}

class UnreachableCaseError extends Error {
  constructor(value: never) {
    super(`unreachable case: ${String(value)}`);
  }
}
