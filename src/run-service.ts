import { ConfigError, loadConfig, type Config } from './config.ts';
import { createLogger } from './logger.ts';
import { startService, type RunningService } from './service.ts';

/**
 * Runs the service as this process: configuration from the environment, stop
 * on SIGTERM/SIGINT. Configuration errors print one line and exit 1.
 */
export async function runService(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`configuration error: ${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
  const logger = createLogger(config.logLevel);
  // Handlers first: a signal that lands while the service starts (or in the
  // instant between its "listening" line and the end of startService) must
  // not kill the process with the default action. It stops the service as
  // soon as the start is over.
  let signal: NodeJS.Signals | null = null;
  let stopWhenStarted: (() => void) | null = null;
  const onSignal = (received: NodeJS.Signals): void => {
    if (signal !== null) return;
    signal = received;
    logger.info({ signal }, 'shutting down');
    const deadline = setTimeout(() => {
      logger.error({ timeoutMs: config.shutdownTimeoutMs }, 'shutdown took too long; exiting');
      process.exit(1);
    }, config.shutdownTimeoutMs);
    deadline.unref();
    stopWhenStarted?.();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  let service: RunningService;
  try {
    service = await startService(config, logger);
  } catch (error) {
    logger.fatal({ err: error }, 'the service could not start');
    process.stderr.write(`sessions service failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  }
  const running = service;
  stopWhenStarted = () => {
    running.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  if (signal !== null) stopWhenStarted();
}
