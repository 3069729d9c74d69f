/**
 * A WebSocket client that never answers the close handshake (a frozen tab, a
 * client whose socket is paused) does not hold graceful shutdown: it is cut
 * after a short grace, so SIGTERM ends with exit code 0 (the writer drained,
 * the database closed) well within SHUTDOWN_TIMEOUT, which is shorter than
 * ws's 30 s close timeout.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { startProcess } from '../helpers/process.ts';

describe('shutdown with an unresponsive WebSocket client', () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('SIGTERM still stops cleanly (exit 0, writer drained)', { timeout: 60_000 }, async () => {
    const service = await startProcess({ DATABASE_URL: db.url as string });
    const raw = new WebSocket(service.wsUrl, 'graphql-transport-ws');
    await new Promise<void>((resolve) => raw.on('open', () => resolve()));
    raw.send(JSON.stringify({ type: 'connection_init', payload: {} }));
    await new Promise<void>((resolve) => raw.once('message', () => resolve()));
    raw.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: 'subscription { sessionStarted { id } }' } }));
    await new Promise((resolve) => setTimeout(resolve, 200));
    // The client stops reading: it will never see (nor answer) the server's close frame.
    (raw as unknown as { _socket: { pause(): void } })._socket.pause();

    const started = Date.now();
    const code = await service.stop('SIGTERM');
    const took = Date.now() - started;
    raw.terminate();
    // A client that never answers the close frame is cut after a short grace, so shutdown does not
    // wait out ws's 30 s close handshake (and SHUTDOWN_TIMEOUT) before the writer is drained.
    expect(took).toBeLessThan(5_000);
    expect(service.logs.some((l) => l['msg'] === 'shutdown took too long; exiting')).toBe(false);
    expect(code).toBe(0);
  });
});
