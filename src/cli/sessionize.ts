/**
 * `sessions sessionize`: the service's session rules over a file, no server
 * or database.
 *
 *   lines -> line-events.ts (JSON.parse, mapping, the service's checks)
 *         -> event-order.ts (lateness, duplicates, key order)
 *         -> the core's Sessionizer -> session-output.ts
 *
 * Memory follows the lateness window and the open sessions, not the file
 * (docs/cli.md, "Late events and memory").
 */
import type { SessionDefinition } from '../definitions/definitions.ts';
import type { EventFilter } from '../definitions/filter.ts';
import { routeEvents } from '../definitions/route.ts';
import type { CheckedEvent, ValidationLimits } from '../ingest/validate.ts';
import { Sessionizer } from '../sessionizer/sessionizer.ts';
import type { SessionRules } from '../sessionizer/types.ts';
import { EventOrder, type FileEvent, type Recall } from './event-order.ts';
import { readLines, type LineOptions, type LineRefusal, type LineSink } from './line-events.ts';
import type { SessionWriter } from './session-output.ts';

export interface SessionizeOptions extends SessionRules, LineOptions {
  /** How far (ms) behind the newest timestamp seen an event is still admitted; Infinity keeps everything. */
  readonly latenessMs: number;
  /**
   * Cut per definition (--definitions), each session tagged with its name;
   * null: the rules of these options, untagged.
   */
  readonly definitions: readonly SessionDefinition[] | null;
}

/** One way of cutting the events: a definition's filter and the core running its rules. */
interface Cut {
  /** The definition's name; null when untagged. */
  readonly name: string | null;
  readonly filter: EventFilter | null;
  readonly core: Sessionizer;
}

export interface SessionizeSummary {
  lines: number;
  /** Events sessionized (duplicates and refused lines excluded). */
  events: number;
  duplicates: number;
  rejected: number;
  rejectedByCode: Record<string, number>;
  sessions: number;
  /** Largest lateness of a refused LATE_EVENT line (0: none). */
  largestLatenessMs: number;
  /** Most events held for ordering at once. */
  peakHeldEvents: number;
}

/**
 * Events admitted between two hand-overs of what is final, besides the one
 * after each chunk: events (and their strings) that die before the next
 * young-generation collection cost nothing to collect, a whole chunk's
 * would be copied and promoted first.
 */
const RELEASE_EVERY = 512;

/** FileEvent.at of line l of chunk c: c * LINES_PER_CHUNK + l (a chunk of the threaded mode holds far fewer lines). */
export const LINES_PER_CHUNK = 2 ** 32;

/** Receives each refused line. */
export type RefusalReporter = (r: LineRefusal) => void;

/**
 * Everything after parsing: admits events in line order, orders them, runs
 * the core and writes each session once it is closed. The threaded pipeline
 * feeds it the parse workers' results.
 */
export class SessionCutter implements LineSink {
  private readonly order: EventOrder;
  private readonly cuts: readonly Cut[];
  private readonly filters: ReadonlyArray<EventFilter | null>;
  private readonly counts = { events: 0, rejected: 0, byCode: {} as Record<string, number> };
  private admitted = 0;

  /** recall: the properties of an event whose line another thread read (EventOrder). */
  constructor(
    opts: SessionizeOptions,
    private readonly writer: SessionWriter,
    private readonly report: RefusalReporter,
    recall?: Recall,
  ) {
    // Events reach the core in key order per user, so it needs no lateness of its own
    // (nothing is ever deferred) and, reading a file, no wall-clock timers.
    const core = (rules: SessionRules): Sessionizer => new Sessionizer({ ...rules, allowedLatenessMs: 0, newId: () => '', quietTimers: false });
    this.cuts =
      opts.definitions === null
        ? [{ name: null, filter: null, core: core(opts) }]
        : opts.definitions.map((d) => ({ name: d.name, filter: d.filter, core: core(d.rules) }));
    this.filters = this.cuts.map((c) => c.filter);
    this.order = new EventOrder(opts.latenessMs, (events) => this.cut(events), recall);
  }

  /** `chunk`: the event's properties are not at hand; they are those of line `line` of that chunk (parsed-chunk.ts). */
  event(e: CheckedEvent, line: number, chunk?: number): void {
    const fe: FileEvent = {
      eventId: e.eventId ?? '',
      userId: e.userId,
      name: e.name,
      ts: e.ts,
      channelId: e.channelId,
      value: e.value,
      own: e.eventId !== null,
      properties: chunk === undefined ? e.properties : undefined,
      at: chunk === undefined ? -1 : chunk * LINES_PER_CHUNK + line,
    };
    const late = this.order.admit(fe, line);
    if (late !== null) this.refuse(late);
    else if (++this.admitted % RELEASE_EVERY === 0) this.order.release();
  }

  refuse(r: LineRefusal): void {
    this.counts.rejected++;
    this.counts.byCode[r.code] = (this.counts.byCode[r.code] ?? 0) + 1;
    this.report(r);
  }

  /** The newest timestamp of lines whose users another thread holds (sessionize-worker.ts). */
  raiseNewest(ts: number): void {
    this.order.raiseNewest(ts);
  }

  /** After each chunk of lines: hands on what is final. */
  release(): void {
    this.order.release();
  }

  private cut(events: readonly FileEvent[]): void {
    this.counts.events += events.length;
    const routed = routeEvents(this.filters, events);
    this.cuts.forEach(({ name, core }, i) => {
      const own = routed[i] as readonly FileEvent[];
      if (own.length === 0) return;
      if (core.apply(own, 0).length > 0) {
        throw new Error('internal error: events in key order were deferred by the sessionizer');
      }
      for (const s of core.drainClosed()) this.writer.write(s, name);
    });
  }

  /** The input ended: the rest in order, then the open sessions close (FLUSH). */
  end(lines: number): SessionizeSummary {
    this.order.end();
    // Sessions the newest line is past close by inactivity, as on one thread,
    // even when that line's user is another thread's (its time never reached this core).
    for (const { name, core } of this.cuts) {
      core.advanceEventTime(this.order.newest(), 0);
      core.flush(undefined, 0);
      for (const s of core.drainClosed()) this.writer.write(s, name);
    }
    return {
      lines,
      events: this.counts.events,
      duplicates: this.order.duplicates,
      rejected: this.counts.rejected,
      rejectedByCode: this.counts.byCode,
      sessions: this.writer.written,
      largestLatenessMs: this.order.largestLatenessMs,
      peakHeldEvents: this.order.peakHeld,
    };
  }
}

/**
 * Sessionizes the lines (chunks of whole lines, as readLineChunks yields
 * them) in this thread; sessions still open at the end close with FLUSH.
 */
export async function sessionizeLines(
  chunks: AsyncIterable<Buffer>,
  writer: SessionWriter,
  opts: SessionizeOptions,
  report: RefusalReporter,
): Promise<SessionizeSummary> {
  const cutter = new SessionCutter(opts, writer, report);
  let lines = 0;
  for await (const buf of chunks) {
    lines += readLines(buf.toString('utf8'), lines + 1, opts, cutter);
    cutter.release();
    await writer.flush();
  }
  const summary = cutter.end(lines);
  await writer.end();
  return summary;
}
