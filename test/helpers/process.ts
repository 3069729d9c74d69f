import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';

/** The service as a child process (`node --import tsx src/main.ts`), for crash and signal tests. */
export interface ServiceProcess {
  readonly child: ChildProcess;
  readonly base: string;
  readonly url: string;
  readonly wsUrl: string;
  /** Parsed JSON log lines so far. */
  readonly logs: Array<Record<string, unknown>>;
  /** Sends the signal and resolves with the exit code (null when killed). */
  stop(signal: NodeJS.Signals): Promise<number | null>;
}

/**
 * Starts the service on a free port and resolves once it logs that it listens.
 * The port is read from that log line.
 */
export async function startProcess(env: Record<string, string>, timeoutMs = 60_000): Promise<ServiceProcess> {
  const extra = process.env['SERVICE_NODE_OPTIONS']?.split(' ').filter(Boolean) ?? [];
  const child = spawn(process.execPath, [...extra, '--import', 'tsx', 'src/main.ts'], {
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Array<Record<string, unknown>> = [];
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const listening = new Promise<string>((resolve, reject) => {
    let buffer = '';
    const timer = setTimeout(() => reject(new Error(`service did not start in ${timeoutMs} ms: ${stderr}`)), timeoutMs);
    child.stdout?.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      let newline: number;
      while ((newline = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        try {
          const entry = JSON.parse(line) as Record<string, unknown>;
          logs.push(entry);
          if (entry['msg'] === 'sessions service listening') {
            clearTimeout(timer);
            resolve(String(entry['url']));
          }
        } catch {
          // not a log line
        }
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`service exited with ${code} before listening: ${stderr}`));
    });
  });
  const url = await listening;
  return {
    child,
    base: url.replace(/\/graphql$/, ''),
    url,
    wsUrl: url.replace(/^http/, 'ws'),
    logs,
    async stop(signal) {
      // Already gone (a signal leaves exitCode null: check signalCode too, or this would wait forever).
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      const exited = once(child, 'exit') as Promise<[number | null]>;
      child.kill(signal);
      const [code] = await exited;
      return code;
    },
  };
}
