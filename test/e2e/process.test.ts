import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { startProcess } from '../helpers/process.ts';

describe('the service process', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('exits 1 with one readable line on a bad configuration value', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      env: { ...process.env, SESSION_GAP: 'abc' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const [code] = (await once(child, 'exit')) as [number];
    expect(code).toBe(1);
    const lines = stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/SESSION_GAP="abc" is not a valid duration/);
  });

  it('starts, reports the schema as current on a second start, and stops on SIGTERM with exit code 0', async () => {
    const env = db.url === null ? {} : { DATABASE_URL: db.url };
    const first = await startProcess(env);
    expect((await fetch(`${first.base}/readyz`)).status).toBe(200);
    expect(await first.stop('SIGTERM')).toBe(0);
    expect(first.logs.some((l) => l['msg'] === 'sessions service stopped')).toBe(true);

    const second = await startProcess(env);
    const schemaLine = second.logs.find((l) => l['msg'] === 'database schema is up to date');
    expect(schemaLine).toBeDefined();
    expect(await second.stop('SIGINT')).toBe(0);
  });
});
