/**
 * The worker thread of `sessions sessionize` (sessionize-threaded.ts): takes
 * the events the main thread reads, parses and orders, cuts the sessions and
 * writes them: straight to the output file when it is a regular file, else
 * through the main thread (worker-messages.ts, WorkerSetup.fd).
 */
import { once } from 'node:events';
import { writeSync } from 'node:fs';
import { Writable } from 'node:stream';
import { parentPort, workerData } from 'node:worker_threads';
import { BatchReader } from './event-batch.ts';
import type { LineEvent } from './line-event.ts';
import { OrderedSessionizer } from './ordered-sessionizer.ts';
import { SessionWriter } from './session-output.ts';
import type { FromWorker, ToWorker, WorkerSetup } from './worker-messages.ts';

const port = parentPort;
if (port === null) throw new Error('sessionize-worker.ts runs as a worker thread');
const setup = workerData as WorkerSetup;

function send(message: FromWorker, transfer: ArrayBuffer[] = []): void {
  port?.postMessage(message, transfer);
}

/** Writes still to be confirmed by the main thread ('written'), oldest first. */
const unconfirmed: Array<(error?: Error | null) => void> = [];

/** The output as chunks for the main thread to write; each write completes when it says so. */
function outputToMainThread(): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, callback) {
      // A copy of its own: the writer reuses its buffers once the write completes.
      const copy = new Uint8Array(chunk);
      unconfirmed.push(callback);
      send({ type: 'output', chunk: copy }, [copy.buffer]);
    },
  });
}

/**
 * The output as a regular file written from this thread, synchronously: the
 * writer waits for each chunk anyway (its backpressure), and a write on the
 * thread pool only added a thread to wake on a machine whose cores are busy
 * (more chunks in flight were slower still).
 */
function outputToFile(fd: number): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, callback) {
      try {
        for (let done = 0; done < chunk.length; ) done += writeSync(fd, chunk, done, chunk.length - done);
      } catch (error) {
        callback(error as Error);
        return;
      }
      callback();
    },
  });
}

// Written from this thread when it can: going through the main thread costs it time.
const out = setup.fd === null ? outputToMainThread() : outputToFile(setup.fd);
const writer = new SessionWriter(out, setup.format, setup.rules);
const sessions = new OrderedSessionizer(setup.rules, (s) => writer.write(s));
const reader = new BatchReader();
const add = (e: LineEvent): void => sessions.add(e);

/** Handles one message at a time, in order (writing may wait for the output to drain). */
let queue = Promise.resolve();
port.on('message', (message: ToWorker) => {
  // Not queued: the message being handled may be waiting for it.
  if (message.type === 'written') {
    unconfirmed.shift()?.();
    return;
  }
  queue = queue.then(() => handle(message));
  queue.catch((error: unknown) => {
    // Surfaces as the Worker's 'error' event in the main thread.
    setImmediate(() => {
      throw error;
    });
  });
});

async function handle(message: Exclude<ToWorker, { type: 'written' }>): Promise<void> {
  switch (message.type) {
    case 'batch':
      reader.read(message.batch, add);
      sessions.closeBefore(message.batch.watermark);
      await writer.flush();
      send({ type: 'ack' });
      break;
    case 'end':
      sessions.flush();
      await writer.end();
      out.end();
      await once(out, 'finish');
      send({ type: 'done', sessions: writer.written });
      port?.close();
      break;
    default:
      throw new Error(`unexpected message ${JSON.stringify(message satisfies never)}`);
  }
}
