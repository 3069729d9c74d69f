/**
 * The worker thread of `sessions sessionize` (sessionize-threaded.ts): takes
 * the admitted events the main thread reads and parses, orders them, cuts
 * the sessions and writes them straight to the output file descriptor.
 */
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { BatchReader } from './event-batch.ts';
import { releaseToSessions } from './event-release.ts';
import type { LineEvent } from './line-event.ts';
import { SessionWriter } from './session-output.ts';
import type { FromWorker, ToWorker, WorkerSetup } from './worker-messages.ts';

const port = parentPort;
if (port === null) throw new Error('sessionize-worker.ts runs as a worker thread');
const setup = workerData as WorkerSetup;
// Written from this thread: going through the main thread's process.stdout would cost it the time it saves.
const out = createWriteStream('', { fd: setup.fd, autoClose: false });
const writer = new SessionWriter(out, setup.format, setup.rules);
const { release, sessions } = releaseToSessions(setup.rules, writer);
const reader = new BatchReader();
const push = (e: LineEvent): void => release.push(e);

function send(message: FromWorker): void {
  port?.postMessage(message);
}

/** Handles one message at a time, in order (writing may wait for the output to drain). */
let queue = Promise.resolve();
port.on('message', (message: ToWorker) => {
  queue = queue.then(() => handle(message));
  queue.catch((error: unknown) => {
    // Surfaces as the Worker's 'error' event in the main thread.
    setImmediate(() => {
      throw error;
    });
  });
});

async function handle(message: ToWorker): Promise<void> {
  switch (message.type) {
    case 'batch':
      reader.read(message.batch, push);
      release.advance(message.batch.watermark);
      await writer.flush();
      send({ type: 'ack' });
      break;
    case 'end':
      release.end(message.watermark);
      sessions.flush();
      await writer.end();
      out.end();
      await once(out, 'finish');
      send({ type: 'done', sessions: writer.written, peakHeldEvents: release.peakHeld });
      port?.close();
      break;
    default:
      throw new Error(`unexpected message ${JSON.stringify(message satisfies never)}`);
  }
}
