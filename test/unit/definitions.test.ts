import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.ts';
import { DefinitionsError, parseDefinitions } from '../../src/definitions/definitions.ts';
import { routeEvents } from '../../src/definitions/route.ts';
import type { SessionRules } from '../../src/sessionizer/types.ts';

const DEFAULTS: SessionRules = {
  gapMs: 1_800_000,
  maxDurationMs: 86_400_000,
  conversionEvents: new Set(['purchase']),
  engagedMinDurationMs: 10_000,
  engagedMinEvents: 2,
};

const parse = (document: unknown) => parseDefinitions(JSON.stringify(document), 'defs.json', DEFAULTS);

/** The design's example file. */
const EXAMPLE = {
  definitions: [
    { name: 'default' },
    { name: 'mobile', gap: '5m', filter: { channels: ['ios', 'android'] } },
    { name: 'forbidden', gap: '10s', maxDuration: '1h', filter: { names: ['http_request'], properties: { status_code: ['403'] } } },
  ],
};

describe('definitions file', () => {
  it('reads the design example; omitted fields come from the environment', () => {
    const [def, mobile, forbidden] = parse(EXAMPLE);
    expect(def?.rules).toEqual(DEFAULTS);
    expect(mobile?.rules).toMatchObject({ gapMs: 300_000, maxDurationMs: 86_400_000, engagedMinEvents: 2 });
    expect(forbidden?.rules).toMatchObject({ gapMs: 10_000, maxDurationMs: 3_600_000 });
    expect(def?.filter).toBeNull();
  });

  it('adds default when the file leaves it out, and the fingerprint follows rules and filter only', () => {
    const only = parse({ definitions: [{ name: 'mobile', gap: 300 }] });
    expect(only.map((d) => d.name)).toEqual(['default', 'mobile']);
    const again = parse({ definitions: [{ name: 'mobile', gap: '5m' }] });
    expect(again[1]?.fingerprint).toBe(only[1]?.fingerprint);
    const other = parse({ definitions: [{ name: 'mobile', gap: '5m', filter: { names: ['x'] } }] });
    expect(other[1]?.fingerprint).not.toBe(only[1]?.fingerprint);
    const converted = parse({ definitions: [{ name: 'mobile', gap: '5m', conversionEvents: ['signup'] }] });
    expect(converted[1]?.fingerprint).not.toBe(only[1]?.fingerprint);
  });

  it.each([
    ['not JSON', '{', /defs\.json: not valid JSON/],
    ['no list', { definitions: 3 }, /field definitions: must be a list/],
    ['a bad name', { definitions: [{ name: 'Mobile' }] }, /definition #1, field name: "Mobile" must match/],
    ['a bad gap', { definitions: [{ name: 'mobile', gap: '5x' }] }, /definition mobile, field gap: "5x" is not a duration/],
    ['maxDuration within gap', { definitions: [{ name: 'm', gap: '1h', maxDuration: '30m' }] }, /definition m, field maxDuration: maxDuration .* must be longer than gap/],
    ['an unknown field', { definitions: [{ name: 'm', gpa: '5m' }] }, /definition m, field gpa: unknown field/],
    ['an unknown filter field', { definitions: [{ name: 'm', filter: { name: ['x'] } }] }, /definition m, field filter.name: unknown field/],
    ['an empty list', { definitions: [{ name: 'm', filter: { channels: [] } }] }, /definition m, field filter.channels: \[\] must be a non-empty list/],
    ['an object value', { definitions: [{ name: 'm', filter: { properties: { a: [{}] } } }] }, /definition m, field filter.properties.a: \{\} must be a string, number or boolean/],
    ['an empty path part', { definitions: [{ name: 'm', filter: { properties: { 'page..path': 'x' } } }] }, /field filter.properties.page..path: a property path needs a key/],
    ['a name twice', { definitions: [{ name: 'm' }, { name: 'm' }] }, /definition m, field name: is defined twice/],
    ['engagedMinEvents 0', { definitions: [{ name: 'm', engagedMinEvents: 0 }] }, /definition m, field engagedMinEvents/],
  ])('refuses %s with one line naming file, definition and field', (_what, document, message) => {
    const text = typeof document === 'string' ? document : JSON.stringify(document);
    let error: unknown;
    try {
      parseDefinitions(text, 'defs.json', DEFAULTS);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(DefinitionsError);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).not.toContain('\n');
  });

  it('is read at start through SESSION_DEFINITIONS: a bad file is a configuration error', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'definitions-'));
    try {
      const good = path.join(dir, 'good.json');
      writeFileSync(good, JSON.stringify(EXAMPLE));
      expect(loadConfig({ SESSION_DEFINITIONS: good }).definitions.map((d) => d.name)).toEqual(['default', 'mobile', 'forbidden']);
      expect(loadConfig({}).definitions.map((d) => d.name)).toEqual(['default']);
      const bad = path.join(dir, 'bad.json');
      writeFileSync(bad, JSON.stringify({ definitions: [{ name: 'forbidden', gap: 'soon' }] }));
      expect(() => loadConfig({ SESSION_DEFINITIONS: bad })).toThrow(ConfigError);
      expect(() => loadConfig({ SESSION_DEFINITIONS: bad })).toThrow(`SESSION_DEFINITIONS file ${bad}, definition forbidden, field gap`);
      expect(() => loadConfig({ SESSION_DEFINITIONS: path.join(dir, 'missing.json') })).toThrow(/cannot be read \(ENOENT\)/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('filters', () => {
  const [, mobile, forbidden] = parse(EXAMPLE);
  const event = (name: string, channelId: string | null, properties: unknown) => ({
    name,
    channelId,
    properties: properties === undefined ? null : JSON.stringify(properties),
  });

  it('hold when every condition holds; a list matches any value; values compare as strings', () => {
    const events = [
      event('http_request', 'web', { status_code: 403 }), // number 403 matches "403"
      event('http_request', 'ios', { status_code: '403' }),
      event('http_request', 'android', { status_code: 404 }),
      event('login', 'ios', { status_code: 403 }), // name not listed
      event('http_request', null, undefined), // no properties: a missing property does not match
      event('http_request', 'web', { status_code: null }),
      event('http_request', 'web', { status_code: [403] }), // a list is not a scalar
    ];
    const [all, mobiles, forbiddens] = routeEvents([null, mobile?.filter ?? null, forbidden?.filter ?? null], events);
    expect(all).toBe(events); // an unfiltered definition takes the input itself
    expect(mobiles).toEqual([events[1], events[2], events[3]]);
    expect(forbiddens).toEqual([events[0], events[1]]);
  });

  it('read dotted paths and booleans', () => {
    const [, nested] = parse({ definitions: [{ name: 'n', filter: { properties: { 'page.path': ['/a', '/b'], beta: true } } }] });
    const filters = [nested?.filter ?? null];
    const matches = (properties: unknown) => routeEvents(filters, [event('x', null, properties)])[0]?.length === 1;
    expect(matches({ page: { path: '/b' }, beta: true })).toBe(true);
    expect(matches({ page: { path: '/b' }, beta: 'true' })).toBe(true);
    expect(matches({ page: { path: '/c' }, beta: true })).toBe(false);
    expect(matches({ 'page.path': '/a', beta: true })).toBe(false);
    expect(matches({ page: '/a', beta: true })).toBe(false);
  });
});
