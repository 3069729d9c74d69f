/**
 * Session definitions (DESIGN.md "Session definitions"): the SESSION_DEFINITIONS
 * file parsed into named rule sets with filters. Pure apart from reading the
 * file: the service and the command line share it.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseDurationMs } from '../duration.ts';
import type { SessionRules } from '../sessionizer/types.ts';
import { filterJson, type EventFilter, type PropertyCondition } from './filter.ts';

/** The definition that always exists (built from the environment unless the file redefines it). */
export const DEFAULT_DEFINITION = 'default';

/** Names of definitions: a lower-case letter, then up to 62 lower-case letters, digits or underscores. */
export const DEFINITION_NAME = /^[a-z][a-z0-9_]{0,62}$/;

/** Most definitions one file may hold (each one sessionizes its events again). */
export const MAX_DEFINITIONS = 32;

/** One named way of cutting events into sessions. */
export interface SessionDefinition {
  readonly name: string;
  readonly rules: SessionRules;
  /** Which events it takes; null: every event. */
  readonly filter: EventFilter | null;
  /**
   * Hash of everything that shapes its sessions (rules and filter): a
   * definition whose fingerprint changed is rebuilt from the stored events.
   */
  readonly fingerprint: string;
}

/** A definitions file that cannot be used: the message is one line naming file, definition and field. */
export class DefinitionsError extends Error {
  override readonly name = 'DefinitionsError';
}

const DEFINITION_FIELDS = new Set(['name', 'gap', 'maxDuration', 'conversionEvents', 'engagedMinDuration', 'engagedMinEvents', 'filter']);
const FILTER_FIELDS = new Set(['names', 'channels', 'properties']);

/** The fingerprint of rules and filter (see SessionDefinition.fingerprint). */
export function fingerprintOf(rules: SessionRules, filter: EventFilter | null): string {
  const canonical = JSON.stringify({
    gapMs: rules.gapMs,
    maxDurationMs: rules.maxDurationMs,
    conversionEvents: [...rules.conversionEvents].sort(),
    engagedMinDurationMs: rules.engagedMinDurationMs,
    engagedMinEvents: rules.engagedMinEvents,
    filter: filterJson(filter),
  });
  return createHash('sha256').update(canonical).digest('hex').slice(0, 32);
}

/** A definition from its parts (computes the fingerprint). */
export function defineSessions(name: string, rules: SessionRules, filter: EventFilter | null = null): SessionDefinition {
  return Object.freeze({ name, rules, filter, fingerprint: fingerprintOf(rules, filter) });
}

/** The definitions without a file: `default` from the environment's rules. */
export function defaultDefinitions(defaults: SessionRules): SessionDefinition[] {
  return [defineSessions(DEFAULT_DEFINITION, defaults)];
}

/** Where in the file a value sits, for error messages. */
class Place {
  constructor(
    private readonly file: string,
    private readonly definition: string | null,
  ) {}

  at(definition: string): Place {
    return new Place(this.file, definition);
  }

  fail(field: string | null, problem: string): never {
    const where = [`SESSION_DEFINITIONS file ${this.file}`];
    if (this.definition !== null) where.push(`definition ${this.definition}`);
    if (field !== null) where.push(`field ${field}`);
    throw new DefinitionsError(`${where.join(', ')}: ${problem}`);
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function shown(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** `gap`-like fields: a duration string (`10s`, `5m`) or a number of seconds. */
function durationField(value: unknown, place: Place, field: string, allowZero: boolean): number {
  const text = typeof value === 'number' && Number.isFinite(value) && value >= 0 ? String(value) : typeof value === 'string' ? value : null;
  const ms = text === null ? null : parseDurationMs(text);
  if (ms === null || (!allowZero && ms === 0)) {
    place.fail(field, `${shown(value)} is not a duration (use 500ms, 30s, 15m, 24h, 7d or a number of seconds${allowZero ? '' : ', greater than 0'})`);
  }
  return ms;
}

/** A non-empty list of non-empty strings (a single string is a list of one). */
function stringList(value: unknown, place: Place, field: string): string[] {
  const list = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(list) || list.length === 0) place.fail(field, `${shown(value)} must be a non-empty list of strings`);
  for (const item of list) {
    if (typeof item !== 'string' || item === '') place.fail(field, `${shown(item)} must be a non-empty string`);
  }
  return list as string[];
}

/** Property values: a scalar or a non-empty list of scalars, compared as strings. */
function propertyValues(value: unknown, place: Place, field: string): Set<string> {
  const list = Array.isArray(value) ? value : [value];
  if (list.length === 0) place.fail(field, 'must list at least one value');
  const out = new Set<string>();
  for (const item of list) {
    if (typeof item === 'string') out.add(item);
    else if (typeof item === 'number' && Number.isFinite(item)) out.add(String(item));
    else if (typeof item === 'boolean') out.add(item ? 'true' : 'false');
    else place.fail(field, `${shown(item)} must be a string, number or boolean (values compare as strings)`);
  }
  return out;
}

function parseFilter(value: unknown, place: Place): EventFilter | null {
  if (value === undefined || value === null) return null;
  if (!isObject(value)) place.fail('filter', 'must be an object with names, channels and/or properties');
  for (const key of Object.keys(value)) {
    if (!FILTER_FIELDS.has(key)) place.fail(`filter.${key}`, `unknown field (expected ${[...FILTER_FIELDS].join(', ')})`);
  }
  const names = value['names'] === undefined ? null : new Set(stringList(value['names'], place, 'filter.names'));
  const channels = value['channels'] === undefined ? null : new Set(stringList(value['channels'], place, 'filter.channels'));
  const properties: PropertyCondition[] = [];
  const raw = value['properties'];
  if (raw !== undefined) {
    if (!isObject(raw) || Object.keys(raw).length === 0) place.fail('filter.properties', 'must be an object of "path": value(s)');
    for (const [key, values] of Object.entries(raw)) {
      const field = `filter.properties.${key}`;
      const path = key.split('.');
      if (path.some((part) => part === '')) place.fail(field, 'a property path needs a key between every dot');
      properties.push({ key, path, values: propertyValues(values, place, field) });
    }
  }
  if (names === null && channels === null && properties.length === 0) return null;
  return Object.freeze({ names, channels, properties: Object.freeze(properties) });
}

function parseDefinition(value: unknown, index: number, place: Place, defaults: SessionRules): SessionDefinition {
  const nameless: Place = place.at(`#${index + 1}`);
  if (!isObject(value)) nameless.fail(null, 'must be an object with at least a name');
  const name = value['name'];
  if (typeof name !== 'string' || !DEFINITION_NAME.test(name)) {
    nameless.fail('name', `${shown(name)} must match [a-z][a-z0-9_]{0,62}`);
  }
  const here: Place = place.at(name);
  for (const key of Object.keys(value)) {
    if (!DEFINITION_FIELDS.has(key)) here.fail(key, `unknown field (expected ${[...DEFINITION_FIELDS].join(', ')})`);
  }
  const gapMs = value['gap'] === undefined ? defaults.gapMs : durationField(value['gap'], here, 'gap', false);
  const maxDurationMs = value['maxDuration'] === undefined ? defaults.maxDurationMs : durationField(value['maxDuration'], here, 'maxDuration', false);
  if (maxDurationMs <= gapMs) {
    here.fail(value['maxDuration'] === undefined ? 'gap' : 'maxDuration', `maxDuration (${maxDurationMs} ms) must be longer than gap (${gapMs} ms)`);
  }
  const engagedMinEvents = value['engagedMinEvents'];
  if (engagedMinEvents !== undefined && (typeof engagedMinEvents !== 'number' || !Number.isSafeInteger(engagedMinEvents) || engagedMinEvents < 1)) {
    here.fail('engagedMinEvents', `${shown(engagedMinEvents)} must be a whole number of at least 1`);
  }
  const rules: SessionRules = Object.freeze({
    gapMs,
    maxDurationMs,
    conversionEvents:
      value['conversionEvents'] === undefined ? defaults.conversionEvents : new Set(stringList(value['conversionEvents'], here, 'conversionEvents')),
    engagedMinDurationMs:
      value['engagedMinDuration'] === undefined
        ? defaults.engagedMinDurationMs
        : durationField(value['engagedMinDuration'], here, 'engagedMinDuration', true),
    engagedMinEvents: engagedMinEvents ?? defaults.engagedMinEvents,
  });
  return defineSessions(name, rules, parseFilter(value['filter'], here));
}

/**
 * Parses the text of a definitions file. `defaults` (the environment's
 * SESSION_GAP, ...) fill every field a definition leaves out; `default` is
 * added from them when the file does not define it. Throws DefinitionsError.
 */
export function parseDefinitions(text: string, file: string, defaults: SessionRules): SessionDefinition[] {
  const place: Place = new Place(file, null);
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (error) {
    place.fail(null, `not valid JSON (${error instanceof Error ? error.message : String(error)})`);
  }
  if (!isObject(document)) place.fail(null, 'must be a JSON object {"definitions": [...]}');
  for (const key of Object.keys(document)) if (key !== 'definitions') place.fail(key, 'unknown field (expected definitions)');
  const list = document['definitions'];
  if (!Array.isArray(list)) place.fail('definitions', 'must be a list of definitions');
  if (list.length > MAX_DEFINITIONS) place.fail('definitions', `holds ${list.length} definitions; at most ${MAX_DEFINITIONS} are allowed`);
  const out: SessionDefinition[] = [];
  const names = new Set<string>();
  list.forEach((value, index) => {
    const definition = parseDefinition(value, index, place, defaults);
    if (names.has(definition.name)) place.at(definition.name).fail('name', 'is defined twice');
    names.add(definition.name);
    out.push(definition);
  });
  if (!names.has(DEFAULT_DEFINITION)) out.unshift(...defaultDefinitions(defaults));
  return out;
}

/** Reads and parses a definitions file (see parseDefinitions). Throws DefinitionsError, also when it cannot be read. */
export function readDefinitionsFile(file: string, defaults: SessionRules): SessionDefinition[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? (error instanceof Error ? error.message : String(error));
    throw new DefinitionsError(`SESSION_DEFINITIONS file ${file}: cannot be read (${reason})`);
  }
  return parseDefinitions(text, file, defaults);
}
