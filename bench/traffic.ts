/**
 * The ingest traffic the benchmarks send (bench/ingest.ts, bench/cluster.ts):
 * GraphQL bodies of BATCH events in one of three shapes, reproducible from
 * the event index.
 */
import { INGEST } from '../test/helpers/events.ts';

/** Events per mutation. */
export const BATCH = 1_000;
/** Users the events cycle through. */
export const USERS = 20_000;
const BURST = 10;

export type Shape = 'distinct' | 'bursts' | 'late';

/** The user and event-time offset (ms) of the i-th event of a shape; users keep one session each. */
function place(shape: Shape, i: number): { user: number; offsetMs: number } {
  if (shape === 'distinct') return { user: i % USERS, offsetMs: i };
  // Batches of BATCH/BURST users, BURST events each; users cycle through the 20,000.
  const batch = Math.floor(i / BATCH);
  const inBatch = i % BATCH;
  const user = (batch * (BATCH / BURST) + Math.floor(inBatch / BURST)) % USERS;
  // Late: a deterministic 1 to 60 minutes back (a multiplicative hash of i spreads the delays).
  if (shape === 'late' && i % 20 === 7) return { user, offsetMs: i - 60_000 * (1 + ((i * 2_654_435_761) % 60)) };
  return { user, offsetMs: i };
}

/**
 * Properties as a web analytics SDK sends them with a page or track call
 * (Segment's page properties and campaign context), different on every event.
 */
function propertiesOf(i: number, user: number): Record<string, unknown> {
  return {
    url: `https://shop.example/p/${i}?ref=c${user % 5}`,
    title: `Item ${i} \u2013 Caf\u00e9`,
    referrer: 'https://search.example/?q=shoes',
    price: (i % 1000) / 10,
    context: { campaign: { source: 'news', medium: 'email', name: `w${i % 52}` }, userAgent: 'Mozilla/5.0 (X11; Linux x86_64)' },
  };
}

/**
 * The body of the mutation holding events start .. start + BATCH - 1 of a
 * shape (ids and users carry `prefix`); `properties`: each event with
 * propertiesOf's.
 */
export function batchBody(shape: Shape, start: number, baseMs: number, prefix: string, properties = false): string {
  const events = [];
  for (let i = start; i < start + BATCH; i++) {
    const { user, offsetMs } = place(shape, i);
    events.push({
      eventId: `${prefix}-${i}`,
      userId: `${prefix}${user}`,
      name: i % 17 === 0 ? 'purchase' : 'page_view',
      timestamp: new Date(baseMs + offsetMs).toISOString(),
      // A user stays on one channel (web, ios, ...), as most sessions do.
      channelId: `c${user % 5}`,
      value: i % 17 === 0 ? 9.99 : null,
      ...(properties ? { properties: propertiesOf(i, user) } : {}),
    });
  }
  return JSON.stringify({ query: INGEST, variables: { events } });
}
