import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.ts';
import { parseDurationMs } from '../../src/duration.ts';

describe('durations', () => {
  it.each([
    ['500ms', 500],
    ['30s', 30_000],
    ['15m', 900_000],
    ['24h', 86_400_000],
    ['7d', 604_800_000],
    ['90', 90_000],
    ['1.5s', 1_500],
  ])('%s is %i ms', (text, ms) => {
    expect(parseDurationMs(text)).toBe(ms);
  });

  it.each(['abc', '', '-5s', '10 minutes', '5w', 's'])('rejects %j', (text) => {
    expect(parseDurationMs(text)).toBeNull();
  });
});

describe('loadConfig', () => {
  it('applies the documented defaults', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      port: 4000,
      host: '0.0.0.0',
      databaseUrl: null,
      sessionGapMs: 1_800_000,
      sessionMaxDurationMs: 86_400_000,
      allowedLatenessMs: 30_000,
      maxFutureSkewMs: 300_000,
      engagedMinDurationMs: 10_000,
      engagedMinEvents: 2,
      maxBatchSize: 10_000,
      updateIntervalMs: 1_000,
    });
    expect([...config.conversionEvents]).toEqual(['purchase']);
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('bounds WebSocket delivery: send timeout, and a subscription backlog no smaller than the largest commit', () => {
    expect(loadConfig({})).toMatchObject({ wsMaxBufferedBytes: 4_194_304, wsSendTimeoutMs: 10_000, wsMaxQueuedMessages: 100_000 });
    expect(loadConfig({ WS_SEND_TIMEOUT: '500ms', WS_MAX_QUEUED_MESSAGES: '60000' })).toMatchObject({
      wsSendTimeoutMs: 500,
      wsMaxQueuedMessages: 60_000,
    });
    // The default follows larger commits: room for two.
    expect(loadConfig({ GROUP_COMMIT_MAX_EVENTS: '200000' }).wsMaxQueuedMessages).toBe(400_000);
    expect(loadConfig({ MAX_BATCH_SIZE: '10', GROUP_COMMIT_MAX_EVENTS: '10', WS_MAX_QUEUED_MESSAGES: '10' }).wsMaxQueuedMessages).toBe(10);
    expect(() => loadConfig({ WS_MAX_QUEUED_MESSAGES: '1000' })).toThrow(/^WS_MAX_QUEUED_MESSAGES=1000 must be at least the largest commit, 50000 events/);
    expect(() => loadConfig({ GROUP_COMMIT_MAX_EVENTS: '10', MAX_BATCH_SIZE: '5000', WS_MAX_QUEUED_MESSAGES: '4999' })).toThrow(
      /^WS_MAX_QUEUED_MESSAGES=4999 .* 5000 events/,
    );
  });

  it('parses lists and keys', () => {
    const config = loadConfig({ CONVERSION_EVENTS: 'purchase, signup ,', READ_API_KEYS: 'a,b' });
    expect([...config.conversionEvents]).toEqual(['purchase', 'signup']);
    expect(config.apiKeys.read).toEqual(['a', 'b']);
  });

  it.each([
    [{ SESSION_GAP: 'abc' }, /^SESSION_GAP="abc"/],
    [{ PORT: '-1' }, /^PORT="-1"/],
    [{ PORT: '70000' }, /^PORT=/],
    [{ MAX_BATCH_SIZE: '0' }, /^MAX_BATCH_SIZE=/],
    [{ DATABASE_URL: 'mysql://x' }, /^DATABASE_URL must start with postgres/],
    [{ SESSION_GAP: '2h', SESSION_MAX_DURATION: '1h' }, /SESSION_MAX_DURATION/],
    [{ LOG_LEVEL: 'loud' }, /^LOG_LEVEL=/],
    [{ WS_SEND_TIMEOUT: '0s' }, /^WS_SEND_TIMEOUT="0s"/],
    [{ WS_MAX_QUEUED_MESSAGES: 'lots' }, /^WS_MAX_QUEUED_MESSAGES="lots"/],
  ])('rejects %j naming the variable', (env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(message);
  });
});

describe('CORS_ORIGINS', () => {
  it('is same-origin only when unset, any origin with *, or the listed origins', () => {
    expect(loadConfig({}).corsOrigins).toEqual([]);
    expect(loadConfig({ CORS_ORIGINS: '*' }).corsOrigins).toBe('*');
    expect(loadConfig({ CORS_ORIGINS: 'https://app.example.com, http://127.0.0.1:8081/' }).corsOrigins).toEqual([
      'https://app.example.com',
      'http://127.0.0.1:8081',
    ]);
  });

  it.each(['https://app.example.com/path', 'app.example.com', '*,https://app.example.com', 'ftp://files.example.com'])(
    'refuses %j naming the variable',
    (value) => {
      expect(() => loadConfig({ CORS_ORIGINS: value })).toThrow(ConfigError);
      expect(() => loadConfig({ CORS_ORIGINS: value })).toThrow(/^CORS_ORIGINS entry "/);
    },
  );
});
