import { matchesFilter, type EventFilter, type FilterableEvent } from './filter.ts';

/**
 * An event as the definitions see it: name, channel and properties, either
 * as the JSON text an ingest carries or already parsed (what the store reads
 * back: only the paths the filters need).
 */
export interface RoutableEvent extends FilterableEvent {
  /**
   * Properties as JSON text (ingest), or null. undefined: not at hand, where
   * no filter reads them (the command line's threads; parsed-chunk.ts).
   */
  readonly properties?: string | null | undefined;
  /** Properties already parsed (read back from the store); wins over `properties`. */
  readonly parsedProperties?: unknown;
}

/** The parsed properties of an event (null when it has none). */
export function propertiesOf(event: RoutableEvent): unknown {
  if (event.parsedProperties !== undefined) return event.parsedProperties;
  const text = event.properties;
  return text === null || text === undefined ? null : (JSON.parse(text) as unknown);
}

/** Whether one event enters a definition with this filter (null: every event does). */
export function entersDefinition(filter: EventFilter | null, event: RoutableEvent): boolean {
  return filter === null || matchesFilter(filter, event, () => propertiesOf(event));
}

/**
 * The events of each definition, in input order: `filters[i]` selects the
 * events of definition i. An unfiltered definition gets the input array
 * itself (no copy: the single-definition path costs nothing); an event's
 * properties are parsed at most once, and only when some filter reads them.
 */
export function routeEvents<E extends RoutableEvent>(filters: readonly (EventFilter | null)[], events: readonly E[]): Array<readonly E[]> {
  if (filters.every((f) => f === null)) return filters.map(() => events);
  const out: E[][] = filters.map(() => []);
  for (const event of events) {
    let parsed: { value: unknown } | null = null;
    const properties = (): unknown => (parsed ??= { value: propertiesOf(event) }).value;
    for (let i = 0; i < filters.length; i++) {
      const filter = filters[i] as EventFilter | null;
      if (filter === null || matchesFilter(filter, event, properties)) (out[i] as E[]).push(event);
    }
  }
  return filters.map((f, i) => (f === null ? events : (out[i] as E[])));
}
