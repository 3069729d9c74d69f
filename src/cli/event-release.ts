/**
 * The second stage of `sessions sessionize`: holds admitted events in a
 * ReorderBuffer and releases them in key order once no event still to come
 * can precede them (they are before the watermark), into the sessionizer
 * (or, on two threads, into the batches for the worker that runs it).
 */
import type { SessionRules } from '../sessionizer/types.ts';
import type { LineEvent } from './line-event.ts';
import { OrderedSessionizer } from './ordered-sessionizer.ts';
import { ReorderBuffer } from './reorder-buffer.ts';
import type { SessionWriter } from './session-output.ts';

/** Where released events go. */
export interface ReleaseSink<E extends LineEvent = LineEvent> {
  /** The next event in key order. */
  event(e: E): void;
  /** Every event still to come is at or after `watermark`. */
  watermark(watermark: number): void;
}

export class EventRelease<E extends LineEvent = LineEvent> {
  private readonly buffer = new ReorderBuffer<E>();
  /** Most events held at once. */
  peakHeld = 0;

  constructor(private readonly sink: ReleaseSink<E>) {}

  push(e: E): void {
    this.buffer.push(e);
    if (this.buffer.size > this.peakHeld) this.peakHeld = this.buffer.size;
  }

  /** Releases the held events before `watermark`: they precede every event still to come. */
  advance(watermark: number): void {
    const buffer = this.buffer;
    if (!(buffer.peekTs() < watermark)) return;
    while (buffer.peekTs() < watermark) this.sink.event(buffer.pop() as E);
    this.sink.watermark(watermark);
  }

  /** The input ended: releases every held event. */
  end(watermark: number): void {
    for (let e = this.buffer.pop(); e !== undefined; e = this.buffer.pop()) this.sink.event(e);
    this.sink.watermark(watermark);
  }
}

/** The stages after admission, wired: release in key order -> OrderedSessionizer -> writer. */
export function releaseToSessions(rules: SessionRules, writer: SessionWriter): { release: EventRelease; sessions: OrderedSessionizer } {
  const sessions = new OrderedSessionizer(rules, (s) => writer.write(s));
  const release = new EventRelease({ event: (e) => sessions.add(e), watermark: (w) => sessions.closeBefore(w) });
  return { release, sessions };
}
