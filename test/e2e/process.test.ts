import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createConnection } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { startProcess } from '../helpers/process.ts';

describe('the service process', () => {
  let db: TestDatabase;
  /** Where the service keeps PGlite when no Postgres server answers (never the repository's ./.data). */
  let dataDir: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    // An empty database: the service must create the schema itself (npm start's test).
    db = await createTestDatabase({ migrate: false });
    dataDir = mkdtempSync(path.join(tmpdir(), 'sessions-process-'));
    env = db.url === null ? { DATA_DIR: dataDir } : { DATABASE_URL: db.url };
  });
  afterAll(async () => {
    await db?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('exits 1 with one readable line on a bad configuration value', async () => {
    const badDefinitions = path.join(dataDir, 'bad-definitions.json');
    writeFileSync(badDefinitions, JSON.stringify({ definitions: [{ name: 'forbidden', gap: '10s', filter: { names: [] } }] }));
    for (const [name, value, message] of [
      ['SESSION_GAP', 'abc', /SESSION_GAP="abc" is not a valid duration/],
      ['PORT', '-1', /PORT="-1"/],
      ['SESSION_DEFINITIONS', badDefinitions, /^configuration error: SESSION_DEFINITIONS file .*bad-definitions\.json, definition forbidden, field filter\.names: /],
    ] as const) {
      const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
        env: { ...process.env, [name]: value },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const [code] = (await once(child, 'exit')) as [number];
      expect(code).toBe(1);
      const lines = stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(message);
    }
  });

  it('creates the schema on an empty database, applies nothing on a second start, and stops on SIGTERM with exit code 0', async () => {
    // A database of its own: the other tests of this file start the service on theirs, which creates the schema.
    const empty = await createTestDatabase({ migrate: false });
    const emptyDir = mkdtempSync(path.join(tmpdir(), 'sessions-process-empty-'));
    try {
      await createsSchemaThenStops(empty.url === null ? { DATA_DIR: emptyDir } : { DATABASE_URL: empty.url });
    } finally {
      await empty.drop();
      rmSync(emptyDir, { recursive: true, force: true });
    }
  });

  async function createsSchemaThenStops(env: Record<string, string>): Promise<void> {
    const first = await startProcess(env);
    const applied = first.logs.find((l) => l['msg'] === 'applied migrations');
    expect(applied?.['applied']).toEqual(expect.arrayContaining([expect.stringMatching(/_init$/)]));
    expect((await fetch(`${first.base}/readyz`)).status).toBe(200);
    expect(await first.stop('SIGTERM')).toBe(0);
    expect(first.logs.some((l) => l['msg'] === 'sessions service stopped')).toBe(true);

    const second = await startProcess(env);
    expect(second.logs.find((l) => l['msg'] === 'database schema is up to date')?.['applied']).toEqual([]);
    expect(await second.stop('SIGINT')).toBe(0);
  }

  it('stops on SIGTERM with exit code 0 within SHUTDOWN_TIMEOUT while a client is still uploading a request', { timeout: 60_000 }, async () => {
    const service = await startProcess({ ...env, SHUTDOWN_TIMEOUT: '4s' });
    const { hostname, port } = new URL(service.base);
    // A request whose body never finishes arriving: one byte every 200 ms of 100,000 announced.
    const socket = createConnection({ host: hostname, port: Number(port) });
    await once(socket, 'connect');
    socket.on('error', () => undefined);
    socket.write(`POST /graphql HTTP/1.1\r\nHost: ${hostname}\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{`);
    const drip = setInterval(() => socket.write(' '), 200);
    try {
      const started = Date.now();
      expect(await service.stop('SIGTERM')).toBe(0);
      expect(Date.now() - started).toBeLessThan(4_000);
      expect(service.logs.some((l) => l['msg'] === 'shutdown took too long; exiting')).toBe(false);
    } finally {
      clearInterval(drip);
      socket.destroy();
    }
  });

  it('runs under `npm start`, and SIGTERM to npm stops the service with exit code 0', async () => {
    const child = spawn('npm', ['start', '--silent'], {
      env: { ...process.env, ...env, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = once(child, 'exit') as Promise<[number | null, string | null]>;
    let buffer = '';
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('npm start did not listen within 60 s')), 60_000);
      child.stdout.on('data', (chunk: Buffer) => {
        buffer += chunk.toString();
        const line = buffer.split('\n').find((l) => l.includes('"sessions service listening"') && l.endsWith('}'));
        if (line !== undefined) {
          clearTimeout(timer);
          resolve(String((JSON.parse(line) as { url: string }).url));
        }
      });
    });
    const base = url.replace(/\/graphql$/, '');
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    child.kill('SIGTERM');
    const [code] = await exited;
    expect(code).toBe(0);
    await expect(fetch(`${base}/healthz`)).rejects.toThrow();
  });
});
