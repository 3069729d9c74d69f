import { WebSocket } from 'ws';
import { WsCloseCode } from './close-codes.ts';

/** Flow control of one WebSocket (see {@link Connection}). */
export interface DeliveryLimits {
  /** Most unsent bytes the socket may hold; past that it is cut off at once (WS_MAX_BUFFERED_BYTES). */
  readonly maxBufferedBytes: number;
  /** Longest the socket may go without finishing a write while it has bytes unsent before it is cut off (ms, WS_SEND_TIMEOUT). */
  readonly sendTimeoutMs: number;
}

/** What a connection reports. */
export interface ConnectionHooks {
  /** A subscription `next` message was handed to the open socket. */
  readonly sent: () => void;
  /** The connection was cut off as a slow consumer, for `reason` (after its socket was told to close). */
  readonly cut: (connection: Connection, reason: string) => void;
}

type Phase = 'open' | 'cut' | 'closed';

// graphql-ws serializes `{"id":…,"type":…,…}` in that order; quotes inside
// the id are escaped, so the first `","type":"` is the one after the id.
const ID_PREFIX = '{"id":"';
const TYPE_AFTER_ID = '","type":"';

/** True for a graphql-ws `next` message (cheap: looks only past the id). */
export function isNextMessage(data: string): boolean {
  if (!data.startsWith(ID_PREFIX)) return false;
  const at = data.indexOf(TYPE_AFTER_ID, ID_PREFIX.length);
  return at > 0 && data.startsWith('next"', at + TYPE_AFTER_ID.length);
}

/**
 * One WebSocket's send side. Like graphql-ws's own adapter, a send returns a
 * promise that settles once the write has reached the kernel, and graphql-ws
 * awaits it before it pulls the subscription's next message: each
 * subscription has one message in flight, a backlog waits in the session bus
 * (stored once for all subscribers, not as serialized bytes per socket), a
 * large commit only makes sends wait, and a burst cannot hold the event loop.
 * (Sends that did not wait cost about 10% more CPU in `npm run bench --
 * fanout` and a fifth of its burst throughput: the garbage of a whole burst at
 * once.)
 *
 * A client that stops reading leaves bytes unsent: when no write finishes
 * for `sendTimeoutMs` while some are unsent, the connection is cut off with
 * 1013, as NATS does with its write deadline. A socket past
 * `maxBufferedBytes` unsent (many subscriptions, each with a message in
 * flight) is cut off at once.
 */
export class Connection {
  private phase: Phase = 'open';
  /** Writes handed to the socket whose callback has not run yet. */
  private writing = 0;
  /** Writes finished so far (progress, for the stall check). */
  private finished = 0;
  private stall: NodeJS.Timeout | null = null;
  private onClosed: ((code: number, reason: string) => unknown) | null = null;

  constructor(
    readonly socket: WebSocket,
    private readonly limits: DeliveryLimits,
    private readonly hooks: ConnectionHooks,
  ) {}

  /** False once the connection was cut off or closed. */
  get open(): boolean {
    return this.phase === 'open';
  }

  /** Called once, when the connection ends (cut off or closed), to end its subscriptions. */
  whenClosed(handler: (code: number, reason: string) => unknown): void {
    this.onClosed = handler;
  }

  /** graphql-ws's `send`: hands `data` to the socket; settles once it is written (see the class). */
  send(data: string): Promise<void> | undefined {
    const socket = this.socket;
    if (this.phase !== 'open' || socket.readyState !== WebSocket.OPEN) return undefined;
    this.writing += 1;
    const written = new Promise<void>((resolve) => socket.send(data, () => this.written(resolve)));
    if (isNextMessage(data)) this.hooks.sent();
    const unsent = socket.bufferedAmount;
    if (unsent > this.limits.maxBufferedBytes) {
      this.cut(WsCloseCode.SlowConsumer, 'consumer too slow: send buffer full');
    } else if (unsent > 0 && this.stall === null) {
      this.stall = setTimeout(this.stalled, this.limits.sendTimeoutMs);
      this.stall.unref();
    }
    return written;
  }

  /** Closes the socket as a slow consumer and ends its subscriptions at once. */
  cut(code: number, reason: string): void {
    if (this.phase !== 'open') return;
    this.phase = 'cut';
    this.socket.close(code, reason);
    this.hooks.cut(this, reason);
    this.end(code, reason);
  }

  /** The socket closed. */
  closed(code: number, reason: string): void {
    if (this.phase === 'open') this.phase = 'closed';
    this.end(code, reason);
  }

  /**
   * The stall timer fired. After the event loop was blocked, timers run
   * before the I/O callbacks of the same turn: let write completions that
   * are already in come in first (setImmediate runs after them), and cut
   * off only a socket that made no progress.
   */
  private readonly stalled = (): void => {
    const finished = this.finished;
    setImmediate(() => {
      if (this.stall !== null && this.finished === finished) this.cut(WsCloseCode.SlowConsumer, 'consumer too slow: send buffer full');
    });
  };

  /** A write reached the kernel (or failed): progress, so the stall timer starts over, or stops when nothing is in flight. */
  private written(resolve: () => void): void {
    this.writing -= 1;
    this.finished += 1;
    if (this.stall !== null) {
      if (this.writing === 0) this.stopStallTimer();
      else this.stall.refresh();
    }
    resolve();
  }

  private stopStallTimer(): void {
    if (this.stall !== null) clearTimeout(this.stall);
    this.stall = null;
  }

  private end(code: number, reason: string): void {
    this.stopStallTimer();
    const handler = this.onClosed;
    this.onClosed = null;
    handler?.(code, reason);
  }
}
