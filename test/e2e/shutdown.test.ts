/**
 * A WebSocket client that never answers the close handshake (a frozen tab, a
 * client whose socket is paused) does not hold graceful shutdown: it is cut
 * after a short grace, so SIGTERM ends with exit code 0 (the writer drained,
 * the database closed) well within SHUTDOWN_TIMEOUT, which is shorter than
 * ws's 30 s close timeout.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { subscriptionsReach } from '../helpers/metrics.ts';
import { startProcess } from '../helpers/process.ts';

describe('shutdown with an unresponsive WebSocket client', () => {
  let db: TestDatabase;
  // Without a Postgres server the service runs on PGlite in this folder (the documented fallback).
  const dataDir = mkdtempSync(path.join(tmpdir(), 'shutdown-'));

  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('SIGTERM still stops cleanly (exit 0, writer drained)', { timeout: 60_000 }, async () => {
    // Shorter than ws's 30 s close timeout: a shutdown that waited for the handshake would exit 1.
    const env = { SHUTDOWN_TIMEOUT: '10s' };
    const service = await startProcess(db.url === null ? { ...env, DATA_DIR: dataDir } : { ...env, DATABASE_URL: db.url });
    const raw = new WebSocket(service.wsUrl, 'graphql-transport-ws');
    await new Promise<void>((resolve) => raw.on('open', () => resolve()));
    raw.send(JSON.stringify({ type: 'connection_init', payload: {} }));
    await new Promise<void>((resolve) => raw.once('message', () => resolve()));
    raw.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: 'subscription { sessionStarted { id } }' } }));
    await subscriptionsReach({ base: service.base }, 1);
    // The client stops reading: it will never see (nor answer) the server's close frame.
    (raw as unknown as { _socket: { pause(): void } })._socket.pause();

    const code = await service.stop('SIGTERM');
    raw.terminate();
    // A client that never answers the close frame is cut after a short grace, so shutdown does not
    // wait out ws's 30 s close handshake: it ends (writer drained, database closed) before SHUTDOWN_TIMEOUT.
    expect(service.logs.some((l) => l['msg'] === 'shutdown took too long; exiting')).toBe(false);
    expect(code).toBe(0);
  });
});
