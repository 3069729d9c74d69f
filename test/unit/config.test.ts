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
  ])('rejects %j naming the variable', (env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(message);
  });
});
