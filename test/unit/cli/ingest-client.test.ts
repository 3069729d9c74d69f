import { describe, expect, it } from 'vitest';
import { interpret } from '../../../src/cli/ingest-client.ts';
import { backoffMs, RetryError, withRetries, type Attempt } from '../../../src/cli/retry.ts';

const ok = JSON.stringify({ data: { ingestEvents: { accepted: 2, duplicates: 1, rejected: [{ index: 0, code: 'X', message: 'm' }] } } });
const error = (code: string, message = 'm'): string => JSON.stringify({ errors: [{ message, extensions: { code } }], data: null });

describe('interpret', () => {
  it('takes the IngestResult of an answer', () => {
    expect(interpret(200, ok)).toEqual({
      kind: 'done',
      value: { accepted: 2, duplicates: 1, rejected: [{ index: 0, code: 'X', message: 'm' }] },
    });
  });

  it.each([
    [200, error('SERVICE_UNAVAILABLE')],
    [200, error('SHUTTING_DOWN')],
    [503, '<html>Service Unavailable</html>'],
    [502, 'bad gateway'],
    [429, error('RATE_LIMITED')],
  ])('retries HTTP %i %s', (status, body) => {
    expect(interpret(status, body).kind).toBe('retry');
  });

  it('keeps how long the service asked to wait: its retryAfterMs, else Retry-After', () => {
    const overloaded = JSON.stringify({ errors: [{ message: 'overloaded', extensions: { code: 'SERVICE_UNAVAILABLE', reason: 'OVERLOADED', retryAfterMs: 1_750 } }] });
    expect(interpret(503, overloaded, '2')).toEqual({ kind: 'retry', reason: 'SERVICE_UNAVAILABLE: overloaded', afterMs: 1_750 });
    expect(interpret(503, '<html>busy</html>', '3')).toMatchObject({ kind: 'retry', afterMs: 3_000 });
    expect(interpret(429, error('RATE_LIMITED'), ' 5 ')).toMatchObject({ kind: 'retry', afterMs: 5_000 });
    // An HTTP date or nothing: no hint, the client's own backoff.
    expect(interpret(503, '<html>busy</html>', 'Wed, 21 Oct 2015 07:28:00 GMT')).toEqual({ kind: 'retry', reason: expect.any(String) });
    expect(interpret(503, '<html>busy</html>')).toEqual({ kind: 'retry', reason: expect.any(String) });
  });

  it.each([
    [200, error('UNAUTHENTICATED', 'a valid key is required'), 'UNAUTHENTICATED: a valid key is required (the service refused the key'],
    [200, error('FORBIDDEN'), 'FORBIDDEN: m (the key lacks the ingest role)'],
    [200, error('BATCH_TOO_LARGE'), 'lower --batch'],
    [413, error('PAYLOAD_TOO_LARGE'), 'lower --batch'],
    [200, error('INTERNAL_SERVER_ERROR', 'Internal server error'), 'INTERNAL_SERVER_ERROR: Internal server error'],
    [404, 'Not Found', 'HTTP 404 with a body that is not JSON'],
  ])('gives up on HTTP %i %s', (status, body, reason) => {
    const outcome = interpret(status, body);
    expect(outcome.kind).toBe('fatal');
    expect(outcome.kind === 'fatal' && outcome.reason).toContain(reason);
  });
});

describe('withRetries', () => {
  it('backs off 250 ms, doubling, up to 10 s, within 25%', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 7].map((r) => backoffMs(r, () => 0.5))).toEqual([250, 500, 1_000, 2_000, 4_000, 8_000, 10_000, 10_000]);
    expect(backoffMs(0, () => 0)).toBe(188);
    expect(backoffMs(0, () => 1)).toBe(313);
  });

  it('waits at least what the server asked for, with up to 25% more, and at most a minute', () => {
    expect(backoffMs(0, () => 0, 4_000)).toBe(4_000);
    expect(backoffMs(0, () => 1, 4_000)).toBe(5_000);
    expect(backoffMs(0, () => 0.5, 4_000)).toBe(4_500);
    // Its own backoff when that is longer.
    expect(backoffMs(6, () => 0.5, 100)).toBe(10_000);
    expect(backoffMs(0, () => 0, 3_600_000)).toBe(60_000);
  });

  it('retries until done, waiting between attempts', async () => {
    const outcomes: Array<Attempt<string>> = [
      { kind: 'retry', reason: 'down' },
      { kind: 'retry', reason: 'still down' },
      { kind: 'retry', reason: 'overloaded', afterMs: 3_000 },
      { kind: 'done', value: 'answer' },
    ];
    const waits: number[] = [];
    const told: string[] = [];
    const value = await withRetries(async () => outcomes.shift() as Attempt<string>, {
      retries: 5,
      sleep: async (ms) => void waits.push(ms),
      onRetry: (reason, retry) => told.push(`${retry}: ${reason}`),
      random: () => 0.5,
    });
    expect(value).toBe('answer');
    expect(waits).toEqual([250, 500, 3_375]);
    expect(told).toEqual(['1: down', '2: still down', '3: overloaded']);
  });

  it('gives up after the retries, and at once on a fatal answer', async () => {
    const opts = { retries: 2, sleep: async () => undefined, onRetry: () => undefined };
    let attempts = 0;
    await expect(
      withRetries(async () => {
        attempts++;
        return { kind: 'retry', reason: 'ECONNREFUSED' } as const;
      }, opts),
    ).rejects.toThrow(new RetryError('ECONNREFUSED; gave up after 3 attempts'));
    expect(attempts).toBe(3);
    await expect(withRetries(async () => ({ kind: 'fatal', reason: 'UNAUTHENTICATED' }) as const, opts)).rejects.toThrow('UNAUTHENTICATED');
  });
});
