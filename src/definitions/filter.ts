/**
 * Event filters of session definitions (DESIGN.md "Session definitions"):
 * which events a definition takes. Pure: no server, database or clock, so
 * the command line can import it as the service does.
 */

/** A parsed filter: every condition present must hold; a list matches any of its values. */
export interface EventFilter {
  /** Event names, or null for any name. */
  readonly names: ReadonlySet<string> | null;
  /** Channel ids, or null for any channel (an event without a channel never matches a list). */
  readonly channels: ReadonlySet<string> | null;
  /** Property conditions: the value at `path` (dotted path split into keys), as a string, is one of `values`. */
  readonly properties: readonly PropertyCondition[];
}

export interface PropertyCondition {
  /** The dotted path as written in the file (`page.path`). */
  readonly key: string;
  /** The keys of that path (`["page", "path"]`). */
  readonly path: readonly string[];
  readonly values: ReadonlySet<string>;
}

/** What a filter reads of an event. `properties` is the parsed properties object (or null). */
export interface FilterableEvent {
  readonly name: string;
  readonly channelId: string | null;
}

/**
 * The string a property value compares as: strings as they are, numbers and
 * booleans as JSON writes them (`403` matches `"403"`); null, objects and
 * arrays never match (null for those).
 */
export function propertyText(value: unknown): string | null {
  switch (typeof value) {
    case 'string':
      return value;
    case 'number':
      return Number.isFinite(value) ? String(value) : null;
    case 'boolean':
      return value ? 'true' : 'false';
    default:
      return null;
  }
}

/** The value at `path` in a properties object, or undefined when some key along it is missing. */
export function valueAt(properties: unknown, path: readonly string[]): unknown {
  let node: unknown = properties;
  for (const key of path) {
    if (node === null || typeof node !== 'object' || Array.isArray(node)) return undefined;
    if (!Object.prototype.hasOwnProperty.call(node, key)) return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}

/** True when the filter needs the event's properties (a caller can skip parsing them otherwise). */
export function readsProperties(filter: EventFilter): boolean {
  return filter.properties.length > 0;
}

/**
 * Whether an event enters a definition with this filter. `properties` is the
 * event's parsed properties object (null when it has none); it is read only
 * when the filter has property conditions.
 */
export function matchesFilter(filter: EventFilter, event: FilterableEvent, properties: () => unknown): boolean {
  if (filter.names !== null && !filter.names.has(event.name)) return false;
  if (filter.channels !== null && (event.channelId === null || !filter.channels.has(event.channelId))) return false;
  if (filter.properties.length === 0) return true;
  const object = properties();
  for (const condition of filter.properties) {
    const text = propertyText(valueAt(object, condition.path));
    if (text === null || !condition.values.has(text)) return false;
  }
  return true;
}

/** Every property path a filter reads (to load only those from the store). */
export function filterPaths(filter: EventFilter): string[][] {
  return filter.properties.map((c) => [...c.path]);
}

/** The filter as JSON, in the file's shape with sorted lists (the `definitions` query and the fingerprint). */
export function filterJson(filter: EventFilter | null): Record<string, unknown> | null {
  if (filter === null) return null;
  const out: Record<string, unknown> = {};
  if (filter.names !== null) out['names'] = [...filter.names].sort();
  if (filter.channels !== null) out['channels'] = [...filter.channels].sort();
  if (filter.properties.length > 0) {
    const properties: Record<string, string[]> = {};
    for (const c of [...filter.properties].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))) {
      properties[c.key] = [...c.values].sort();
    }
    out['properties'] = properties;
  }
  return out;
}
