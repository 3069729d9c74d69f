/**
 * The files of bench/cli.ts: a day of events in several export shapes, and
 * for each the DuckDB expressions that read it. Every shape carries the same
 * kind of traffic (users writing in bursts, mostly in a few favourite
 * channels, lines up to JITTER late); a user's events are at least one
 * unit of the shape's time resolution apart, so no two lines tie and the
 * Python script (which orders ties by line) gives the same sessions.
 */
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { rng } from '../test/helpers/random.ts';

export interface Shape {
  readonly name: string;
  readonly users: number;
  /** Time resolution in ms (1000: whole seconds). */
  readonly unitMs: number;
  /** One line, with its line break. */
  line(e: GeneratedEvent): string;
  /** DuckDB: the event time in ms, the name, the user and the channel, from read_json's columns. */
  readonly sql: { readonly ts: string; readonly name: string; readonly user: string; readonly channel: string };
}

export interface GeneratedEvent {
  readonly n: number;
  readonly ts: number;
  readonly user: number;
  readonly channel: number;
  readonly name: string;
  readonly value: number | null;
}

const iso = (ms: number): string => new Date(ms).toISOString();

export const SHAPES: readonly Shape[] = [
  {
    // The seed's example: four keys, RFC 3339 in whole seconds, ids as strings.
    name: 'seed',
    users: 50_000,
    unitMs: 1000,
    line: (e) =>
      `{"event_name": "${e.name}", "timestamp": "${iso(e.ts).replace('.000Z', 'Z')}", "user_id": "${e.user}", "channel_id": "${e.channel}"}\n`,
    sql: { ts: 'epoch_ms(CAST("timestamp" AS TIMESTAMPTZ))', name: 'event_name', user: 'user_id', channel: 'channel_id' },
  },
  {
    // An export with event ids, keys in another order, milliseconds and an offset, a value on some lines only.
    name: 'export',
    users: 200_000,
    unitMs: 1,
    line: (e) => {
      const value = e.value === null ? '' : `,"purchase_value":${e.value}`;
      const local = new Date(e.ts + 3_600_000).toISOString().slice(0, 23);
      return `{"event_id":"ev-${e.n}","user_id":"u${e.user}","channel_id":"c${e.channel}","timestamp":"${local}+01:00","event_name":"${e.name}"${value}}\n`;
    },
    sql: { ts: 'epoch_ms(CAST("timestamp" AS TIMESTAMPTZ))', name: 'event_name', user: 'user_id', channel: 'channel_id' },
  },
  {
    // Epoch milliseconds, numeric ids, nested properties with escapes and non-ASCII text, CRLF.
    name: 'nested',
    users: 1_000,
    unitMs: 1,
    line: (e) =>
      `{"ts":${e.ts},"user_id":${e.user},"event_type":"${e.name}","channel_id":${e.channel},` +
      `"properties":{"page":{"path":"/p/${e.n % 97}","title":"Caf\\u00e9 \\"${e.n % 7}\\" ü"},"tags":["a","b"],"ref":null}}\r\n`,
    sql: { ts: 'ts', name: 'event_type', user: 'user_id', channel: 'channel_id' },
  },
  {
    // A web analytics export (Segment-like keys): properties and context that
    // differ on every line (page URL, title, request id), as real exports
    // have them, so no cache of repeated properties text helps.
    name: 'pages',
    users: 20_000,
    unitMs: 1,
    line: (e) =>
      `{"type":"track","event":"${e.name}","userId":"user-${e.user}","channel_id":"c${e.channel}","timestamp":"${iso(e.ts)}",` +
      `"properties":{"url":"https://shop.example/p/${e.n}?ref=c${e.channel}","title":"Item ${e.n} \\u2013 Caf\\u00e9","price":${(e.n % 1000) / 10}},` +
      `"context":{"ip":"10.0.${e.user % 256}.${e.n % 256}","requestId":"r-${e.n}"},"messageId":"m-${e.n}"}\n`,
    sql: { ts: 'epoch_ms(CAST("timestamp" AS TIMESTAMPTZ))', name: '"event"', user: '"userId"', channel: 'channel_id' },
  },
  {
    // Epoch seconds with fractions, optional and extra keys, ids mixed.
    name: 'seconds',
    users: 10_000,
    // Quarter seconds: exact in binary, so seconds with a fraction read back to the same millisecond everywhere.
    unitMs: 250,
    line: (e) => {
      const extra = e.n % 3 === 0 ? ',"session_hint":null,"app":{"v":"1.2"}' : '';
      const value = e.value === null ? '' : `,"value":"${e.value}"`;
      return `{"user_id":"${e.user}"${extra},"time":${e.ts / 1000},"name":"${e.name}","channelId":"${e.channel}"${value}}\n`;
    },
    sql: { ts: 'CAST(round("time" * 1000) AS BIGINT)', name: '"name"', user: 'user_id', channel: 'channelId' },
  },
];

const CHANNELS = 200;
const GAP_MS = 30_000;
const JITTER_MS = 2_000;
const T0 = Date.UTC(2016, 10, 8);
const NAMES = ['send_message', 'send_message', 'send_message', 'open_channel', 'add_reaction', 'purchase'];

/** Writes `lines` events of `shape` to `file`, in arrival order (each up to JITTER_MS late). */
export async function generate(shape: Shape, lines: number, file: string): Promise<void> {
  const random = rng(42);
  const ts = new Float64Array(lines);
  const arrival = new Float64Array(lines);
  const user = new Int32Array(lines);
  const channel = new Int32Array(lines);
  const name = new Uint8Array(lines);
  const perUser = Math.max(1, Math.ceil(lines / shape.users));
  const unit = shape.unitMs;
  let n = 0;
  for (let u = 1; n < lines; u++) {
    const home = 1 + Math.floor(random() * CHANNELS);
    let t = T0 + Math.floor((random() * 86_400_000) / unit) * unit;
    for (let i = 0; i < perUser && n < lines; i++, n++) {
      ts[n] = t;
      arrival[n] = t + random() * JITTER_MS;
      user[n] = u;
      channel[n] = random() < 0.7 ? home : 1 + Math.floor(random() * CHANNELS);
      name[n] = Math.floor(random() * NAMES.length);
      const p = random();
      const step =
        p < 0.35 ? random() * GAP_MS : p < 0.4 ? GAP_MS : p < 0.45 ? GAP_MS + unit : 60_000 + random() * 3 * 3_600_000;
      t += Math.max(unit, Math.floor(step / unit) * unit);
    }
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => (arrival[a] as number) - (arrival[b] as number));
  const out = createWriteStream(file);
  let chunk = '';
  for (const i of order) {
    const nm = NAMES[name[i] as number] as string;
    chunk += shape.line({ n: i, ts: ts[i] as number, user: user[i] as number, channel: channel[i] as number, name: nm, value: nm === 'purchase' ? 12.5 : null });
    if (chunk.length > 1 << 20) {
      if (!out.write(chunk)) await once(out, 'drain');
      chunk = '';
    }
  }
  out.end(chunk);
  await once(out, 'finish');
}
