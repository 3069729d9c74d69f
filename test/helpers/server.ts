import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config.ts';
import { createLogger } from '../../src/logger.ts';
import { startService, type RunningService } from '../../src/service.ts';

/** A service started for a test, with its URLs. */
export interface TestServer {
  readonly url: string;
  readonly wsUrl: string;
  readonly service: RunningService;
  stop(): Promise<void>;
}

/**
 * Starts the real service on 127.0.0.1, port 0, against `databaseUrl` (or an
 * embedded PGlite in a temporary folder when null). `env` overrides any
 * configuration variable, exactly as the environment would.
 */
export async function startTestServer(
  databaseUrl: string | null,
  env: Record<string, string> = {},
): Promise<TestServer> {
  const dataDir = databaseUrl === null ? mkdtempSync(path.join(tmpdir(), 'sessions-test-')) : null;
  const config = loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: process.env['TEST_LOG_LEVEL'] ?? 'silent',
    ...(databaseUrl === null ? { DATA_DIR: dataDir ?? '' } : { DATABASE_URL: databaseUrl }),
    ...env,
  });
  const service = await startService(config, createLogger(config.logLevel));
  return {
    url: service.url,
    wsUrl: service.wsUrl,
    service,
    async stop() {
      await service.stop();
      if (dataDir !== null) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
