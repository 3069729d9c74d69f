import type { SessionDefinition } from '../definitions/definitions.ts';
import type { Db } from './event-store.ts';
import { loadDefinitionRows, storedRules, type DefinitionRow, type DefinitionStatus, type StoredRules } from './definition-store.ts';

/** A definition as the `definitions` query shows it. */
export interface DefinitionInfo {
  readonly name: string;
  readonly status: DefinitionStatus;
  readonly rules: StoredRules;
  /** Share of the stored events read by the build in progress (0 to 1); null when not building. */
  readonly progress: number | null;
  readonly eventsProcessed: number | null;
  readonly eventsTotal: number | null;
  readonly buildStartedAt: number | null;
  readonly readyAt: number | null;
}

/** Progress of a build from its events read and the events stored when it started. */
export function buildProgress(row: Pick<DefinitionRow, 'buildEvents' | 'buildTotal'>): number | null {
  if (row.buildEvents === null) return null;
  const total = row.buildTotal ?? 0;
  return total <= 0 ? 0 : Math.min(1, row.buildEvents / total);
}

/**
 * The definitions the API knows: those of the file, and the RETIRED ones
 * the database keeps (read-only). Names are fixed at start; states and
 * progress are read from the database on each call, so every instance of a
 * cluster answers the same.
 */
export class DefinitionCatalog {
  private readonly names: ReadonlySet<string>;
  private readonly gaps: ReadonlyMap<string, number>;

  constructor(
    private readonly db: Db,
    private readonly definitions: readonly SessionDefinition[],
    retired: ReadonlyArray<{ name: string; rules: StoredRules }>,
    private readonly fallbackGapMs: number,
  ) {
    this.names = new Set([...definitions.map((d) => d.name), ...retired.map((r) => r.name)]);
    this.gaps = new Map([...retired.map((r): [string, number] => [r.name, r.rules.gapMs]), ...definitions.map((d): [string, number] => [d.name, d.rules.gapMs])]);
  }

  /** Loads the retired definitions' rules once (at start). */
  static async open(db: Db, definitions: readonly SessionDefinition[], fallbackGapMs: number): Promise<DefinitionCatalog> {
    const rows = await loadDefinitionRows(db);
    return new DefinitionCatalog(db, definitions, rows.filter((r) => r.status === 'RETIRED'), fallbackGapMs);
  }

  /** Whether queries may name it (UNKNOWN_DEFINITION otherwise). */
  has(name: string): boolean {
    return this.names.has(name);
  }

  /** Its gap in ms (a session's closesAt = endedAt + gap). */
  gapOf = (name: string): number => this.gaps.get(name) ?? this.fallbackGapMs;

  /** Every known definition with its state, the file's first (in file order), then the retired ones. */
  async list(): Promise<DefinitionInfo[]> {
    const rows = new Map((await loadDefinitionRows(this.db)).map((r) => [r.name, r]));
    const out: DefinitionInfo[] = [];
    for (const definition of this.definitions) {
      const row = rows.get(definition.name);
      out.push(info(definition.name, row?.status ?? 'BUILDING', storedRules(definition), row));
      rows.delete(definition.name);
    }
    for (const row of rows.values()) if (this.names.has(row.name)) out.push(info(row.name, row.status, row.rules, row));
    return out;
  }
}

function info(name: string, status: DefinitionStatus, rules: StoredRules, row: DefinitionRow | undefined): DefinitionInfo {
  return {
    name,
    status,
    rules,
    progress: row === undefined ? null : buildProgress(row),
    eventsProcessed: row?.buildEvents ?? null,
    eventsTotal: row?.buildEvents === null ? null : (row?.buildTotal ?? null),
    buildStartedAt: row?.buildStartedAt?.getTime() ?? null,
    readyAt: row?.readyAt?.getTime() ?? null,
  };
}
