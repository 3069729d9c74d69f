import { afterEach, describe, expect, it, vi } from 'vitest';
import type { WebSocket } from 'ws';
import { Connection, isNextMessage } from '../../src/server/ws-connection.ts';

/**
 * The part of a ws socket a Connection uses. While `accepting`, the kernel
 * takes every write at once (its callback runs on the next tick, as Node
 * does); otherwise writes stay unsent until the test drains them.
 */
function fakeSocket() {
  const pending: Array<{ bytes: number; written: () => void }> = [];
  const socket = {
    readyState: 1, // OPEN
    bufferedAmount: 0,
    accepting: true,
    closedWith: null as number | null,
    send(data: string, written: () => void) {
      if (socket.accepting && pending.length === 0) {
        process.nextTick(written);
        return;
      }
      socket.bufferedAmount += data.length;
      pending.push({ bytes: data.length, written });
    },
    close(code: number) {
      socket.closedWith = code;
      socket.readyState = 2;
    },
    /** The kernel takes `count` waiting writes. */
    drain(count: number) {
      for (const write of pending.splice(0, count)) {
        socket.bufferedAmount -= write.bytes;
        write.written();
      }
    },
  };
  return socket;
}

const next = (id: string, size = 100) => JSON.stringify({ id, type: 'next', payload: { data: { x: 'y'.repeat(size) } } });

describe('isNextMessage', () => {
  it.each([
    [next('1'), true],
    [JSON.stringify({ id: 'a","type":"next', type: 'complete' }), false],
    [JSON.stringify({ id: '7', type: 'error', payload: [{ message: '","type":"next"' }] }), false],
    [JSON.stringify({ id: '7', type: 'complete' }), false],
    [JSON.stringify({ type: 'connection_ack' }), false],
    [JSON.stringify({ type: 'pong', payload: { a: 'x', type: 'next' } }), false],
  ])('%s -> %s', (data, expected) => {
    expect(isNextMessage(data)).toBe(expected);
  });
});

describe('Connection', () => {
  afterEach(() => vi.useRealTimers());

  function connect(limits = { maxBufferedBytes: 10_000, sendTimeoutMs: 500 }) {
    const socket = fakeSocket();
    const hooks = { sent: vi.fn(), cut: vi.fn() };
    const connection = new Connection(socket as unknown as WebSocket, limits, hooks);
    const ended = vi.fn();
    connection.whenClosed(ended);
    return { socket, hooks, connection, ended };
  }

  it('settles each send once its write is out, and counts next messages only', async () => {
    const { connection, socket, hooks } = connect();
    const written: string[] = [];
    const send = socket.send;
    socket.send = (data, done) => send(data, () => (written.push(data), done()));
    const messages = [next('1'), next('2'), JSON.stringify({ id: '1', type: 'complete' }), next('3'), JSON.stringify({ type: 'pong' })];
    const settled: string[] = [];
    const sends = messages.map((m) => {
      const sending = connection.send(m);
      expect(sending, m).toBeInstanceOf(Promise);
      return sending?.then(() => {
        expect(written, 'settled before its write went out').toContain(m);
        settled.push(m);
      });
    });
    expect(settled).toEqual([]);
    await Promise.all(sends);
    expect(settled).toEqual(messages);
    expect(written).toEqual(messages);
    // Counted when handed to the socket: the three `next` messages, not the complete nor the pong.
    expect(hooks.sent).toHaveBeenCalledTimes(3);
  });

  it('keeps a send pending while its bytes are unsent', async () => {
    const { connection, socket, hooks } = connect();
    socket.accepting = false;
    let written = 0;
    void connection.send(next('1'))?.then(() => written++);
    void connection.send(next('2'))?.then(() => written++);
    await Promise.resolve();
    expect(written).toBe(0);
    socket.drain(1);
    await Promise.resolve();
    expect(written).toBe(1);
    socket.drain(1);
    await Promise.resolve();
    expect(written).toBe(2);
    expect(hooks.cut).not.toHaveBeenCalled();
  });

  it('cuts off, once, a socket that finishes no write for the send timeout while bytes are unsent', () => {
    vi.useFakeTimers();
    const { connection, socket, hooks, ended } = connect();
    socket.accepting = false;
    void connection.send(next('1'));
    vi.advanceTimersByTime(499);
    expect(hooks.cut).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    vi.runOnlyPendingTimers(); // the check after the I/O of that turn
    expect(socket.closedWith).toBe(1013);
    expect(hooks.cut).toHaveBeenCalledWith(connection, 'consumer too slow: send buffer full');
    expect(ended).toHaveBeenCalledWith(1013, 'consumer too slow: send buffer full');
    expect(connection.open).toBe(false);
    expect(connection.send(next('2'))).toBeUndefined();
    connection.closed(1013, '');
    expect(ended).toHaveBeenCalledTimes(1);
  });

  it('does not cut a socket whose write finished in the turn the timer fired (a blocked event loop)', () => {
    vi.useFakeTimers();
    const { connection, socket, hooks } = connect();
    socket.accepting = false;
    void connection.send(next('1'));
    void connection.send(next('2'));
    vi.advanceTimersByTime(500); // the timer fires; its check waits for the I/O of the turn
    socket.drain(1);
    vi.runOnlyPendingTimers();
    expect(hooks.cut).not.toHaveBeenCalled();
    vi.advanceTimersByTime(500);
    vi.runOnlyPendingTimers();
    expect(hooks.cut).toHaveBeenCalledTimes(1); // no progress since
  });

  it('does not cut a socket that keeps finishing writes, however slowly', () => {
    vi.useFakeTimers();
    const { connection, socket, hooks } = connect();
    socket.accepting = false;
    for (let i = 0; i < 3; i++) void connection.send(next(String(i)));
    for (let i = 3; i < 13; i++) {
      vi.advanceTimersByTime(400);
      socket.drain(1); // one write out every 400 ms, never all of them
      void connection.send(next(String(i)));
    }
    expect(hooks.cut).not.toHaveBeenCalled();
    socket.drain(3);
    vi.advanceTimersByTime(10_000);
    expect(hooks.cut).not.toHaveBeenCalled();
    expect(connection.open).toBe(true);
  });

  it('cuts off at once a socket past maxBufferedBytes unsent', () => {
    const { connection, socket, hooks } = connect({ maxBufferedBytes: 1_000, sendTimeoutMs: 60_000 });
    socket.accepting = false;
    void connection.send(next('1', 500));
    expect(hooks.cut).not.toHaveBeenCalled();
    void connection.send(next('2', 500));
    expect(socket.closedWith).toBe(1013);
    expect(hooks.cut).toHaveBeenCalledTimes(1);
  });
});
