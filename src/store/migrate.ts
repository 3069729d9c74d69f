// Migrations without Prisma's native schema engine.
//
// applyMigrations() = `prisma migrate deploy`: it feeds prisma/migrations to
// the Wasm schema engine's `applyMigrations`, which keeps the same
// `_prisma_migrations` table (name, sha256 checksum, started/finished times)
// as the native engine. A machine with the native engine can therefore run
// `npx prisma migrate deploy` on the same database and folder and find
// nothing pending, and vice versa.
//
// diffMigration() = `prisma migrate diff --from-migrations prisma/migrations
// --to-schema prisma/schema.prisma --script` written to a new migration
// folder, i.e. what `prisma migrate dev --create-only` produces.

import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type {
  SqlDriverAdapter,
  SqlMigrationAwareDriverAdapterFactory,
} from '@prisma/driver-adapter-utils';
import type { DiffParams, MigrationList, SchemaFilter } from './schema-engine.ts';
import { isSchemaEngineLoaded, openSchemaEngine } from './schema-engine.ts';

const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** prisma/migrations of this project. */
export const DEFAULT_MIGRATIONS_DIR = path.join(projectRoot, 'prisma', 'migrations');
/** prisma/schema.prisma of this project. */
export const DEFAULT_SCHEMA_PATH = path.join(projectRoot, 'prisma', 'schema.prisma');

const LOCKFILE = 'migration_lock.toml';
const NO_FILTER: SchemaFilter = { externalTables: [], externalEnums: [] };

export interface ApplyMigrationsOptions {
  /** Folder holding `<name>/migration.sql` folders (default: prisma/migrations). */
  migrationsDir?: string;
  /**
   * Always run the schema engine, even when `_prisma_migrations` already lists
   * every migration folder (default false: that case is answered with one SQL
   * query and the Wasm engine is not even loaded).
   */
  force?: boolean;
  /** Receives the schema engine's log lines (JSON). */
  log?: (line: string) => void;
}

export interface ApplyMigrationsResult {
  /** Names of the migrations applied by this call, in order ([] when up to date). */
  applied: string[];
  /** True when the quick `_prisma_migrations` check found nothing pending and the engine was skipped. */
  skippedEngine: boolean;
}

/**
 * Apply the pending migrations of prisma/migrations to the database behind
 * `adapterFactory` (`new PrismaPg({ connectionString })` or
 * `new PrismaPGlite(pglite)`), like `prisma migrate deploy`.
 *
 * Fails (SchemaEngineError) when a migration fails (P3018: that migration is
 * recorded as failed and later calls refuse to go on, P3009, until it is
 * resolved) or when the database cannot be reached. The adapter connections
 * it opens are closed before it returns; a PGlite instance passed in stays
 * open (it belongs to the caller).
 */
export async function applyMigrations(
  adapterFactory: SqlMigrationAwareDriverAdapterFactory,
  opts: ApplyMigrationsOptions = {},
): Promise<ApplyMigrationsResult> {
  const migrationsDir = opts.migrationsDir ?? DEFAULT_MIGRATIONS_DIR;
  const migrationsList = await readMigrationsDir(migrationsDir);

  if (opts.force !== true) {
    const folders = migrationsList.migrationDirectories.map((d) => d.path);
    if (await allRecordedAsApplied(adapterFactory, folders)) {
      return { applied: [], skippedEngine: true };
    }
  }

  const handle = await openSchemaEngine(adapterFactory, opts.log ? { log: opts.log } : {});
  try {
    const out = await handle.run('applyMigrations', (e) =>
      e.applyMigrations({ migrationsList, filters: NO_FILTER }),
    );
    return { applied: out.appliedMigrationNames, skippedEngine: false };
  } finally {
    await handle.close();
  }
}

export interface DiffMigrationOptions {
  /** Folder holding the migrations (default: prisma/migrations). */
  migrationsDir?: string;
  /** The Prisma schema to migrate to (default: prisma/schema.prisma). */
  schemaPath?: string;
  /** Migration folder timestamp (default: now). Only its UTC value matters. */
  now?: Date;
  /** Receives the schema engine's log lines (JSON). */
  log?: (line: string) => void;
}

export type DiffMigrationResult =
  | { created: false; reason: 'empty-diff' }
  | { created: true; name: string; dir: string; sql: string };

/**
 * Write prisma/migrations/<UTC yyyymmddHHMMSS>_<name>/migration.sql with the
 * SQL that takes a database from "all migrations in the folder applied" to
 * prisma/schema.prisma. Writes nothing and returns `{ created: false }` when
 * the two already match. Also writes migration_lock.toml when it is missing.
 *
 * `adapterFactory` must point at a scratch database: the engine replays every
 * migration into it (it is its "shadow database"), so it has to be empty;
 * this is checked and the call fails otherwise. Use an in-memory PGlite
 * (`new PrismaPGlite(new PGlite())`) or a freshly created, empty Postgres
 * database, and drop it afterwards.
 */
export async function diffMigration(
  adapterFactory: SqlMigrationAwareDriverAdapterFactory,
  name: string,
  opts: DiffMigrationOptions = {},
): Promise<DiffMigrationResult> {
  const slug = migrationSlug(name);
  const migrationsDir = opts.migrationsDir ?? DEFAULT_MIGRATIONS_DIR;
  const schemaPath = opts.schemaPath ?? DEFAULT_SCHEMA_PATH;
  const [migrationsList, schema] = await Promise.all([
    readMigrationsDir(migrationsDir),
    readFile(schemaPath, 'utf8'),
  ]);

  await assertEmptyDatabase(adapterFactory);

  // The engine replays the migrations into a "shadow database" it gets from
  // connectToShadowDb(). We hand it the scratch database itself: @prisma/adapter-pg
  // would CREATE DATABASE another one (and, when built from a connectionString,
  // connect back to the main database instead, because the string's dbname
  // wins over the `database` option), pglite-prisma-adapter would boot a
  // second in-memory PGlite (seconds) and never close it.
  const scratch: SqlMigrationAwareDriverAdapterFactory = {
    provider: adapterFactory.provider,
    adapterName: adapterFactory.adapterName,
    connect: () => adapterFactory.connect(),
    connectToShadowDb: () => adapterFactory.connect(),
  };

  // The engine reads the connector from migration_lock.toml: with no
  // migrations yet, diff from the empty schema instead; with migrations but no
  // lockfile, assume the one this project uses (and write it below).
  const hasLockfile = migrationsList.lockfile.content !== null;
  if (!hasLockfile) migrationsList.lockfile.content = lockfileContent('postgresql');
  const from: DiffParams['from'] =
    migrationsList.migrationDirectories.length === 0
      ? { tag: 'empty' }
      : { tag: 'migrations', ...migrationsList };

  const handle = await openSchemaEngine(scratch, opts.log ? { log: opts.log } : {});
  let script: string;
  let exitCode: number;
  try {
    const out = await handle.run('diff', (e) =>
      e.diff({
        from,
        to: {
          tag: 'schemaDatamodel',
          files: [{ path: path.relative(projectRoot, schemaPath) || schemaPath, content: schema }],
        },
        script: true,
        // exitCode: 2 when there is a difference, 0 when there is none.
        exitCode: true,
        filters: NO_FILTER,
      }),
    );
    script = out.stdout ?? '';
    exitCode = out.exitCode;
  } finally {
    await handle.close();
  }

  if (exitCode === 0) return { created: false, reason: 'empty-diff' };
  if (exitCode !== 2) throw new Error(`schema engine diff: unexpected exit code ${exitCode}`);

  const folder = `${migrationTimestamp(opts.now ?? new Date())}_${slug}`;
  const dir = path.join(migrationsDir, folder);
  await mkdir(migrationsDir, { recursive: true });
  await mkdir(dir); // fails if it already exists: never overwrite a migration
  try {
    await writeFile(path.join(dir, 'migration.sql'), script, 'utf8');
    if (!hasLockfile) {
      await writeFile(path.join(migrationsDir, LOCKFILE), lockfileContent('postgresql'), 'utf8');
    }
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  return { created: true, name: folder, dir, sql: script };
}

/**
 * Read a migrations folder the way the Prisma CLI does before calling the
 * engine: migration_lock.toml, then every sub-folder (sorted by name) with its
 * migration.sql. A missing folder is an empty history.
 */
export async function readMigrationsDir(migrationsDir: string): Promise<MigrationList> {
  const baseDir = path.resolve(migrationsDir);
  const lockContent = await readFile(path.join(baseDir, LOCKFILE), 'utf8').catch(() => null);
  let entries: import('node:fs').Dirent[] = [];
  try {
    entries = await readdir(baseDir, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const dirs = entries
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort((a, b) => a.localeCompare(b));
  const migrationDirectories = await Promise.all(
    dirs.map(async (dirName) => {
      const content = await readFile(path.join(baseDir, dirName, 'migration.sql'), 'utf8').then(
        (value) => ({ tag: 'ok' as const, value }),
        (err: Error) => ({ tag: 'error' as const, value: err.message }),
      );
      return { path: dirName, migrationFile: { path: 'migration.sql', content } };
    }),
  );
  return {
    baseDir,
    lockfile: { path: LOCKFILE, content: lockContent },
    shadowDbInitScript: '',
    migrationDirectories,
  };
}

/** migration_lock.toml exactly as the Prisma CLI writes it. */
export function lockfileContent(provider: string): string {
  return `# Please do not edit this file manually\n# It should be added in your version-control system (e.g., Git)\nprovider = "${provider}"\n`;
}

/** UTC yyyymmddHHMMSS, the prefix Prisma gives migration folders. */
export function migrationTimestamp(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return (
    String(d.getUTCFullYear()) +
    p(d.getUTCMonth() + 1) +
    p(d.getUTCDate()) +
    p(d.getUTCHours()) +
    p(d.getUTCMinutes()) +
    p(d.getUTCSeconds())
  );
}

/** The folder-name part of a migration name (letters, digits, `_`); throws when nothing is left. */
export function migrationSlug(name: string): string {
  const slug = name
    .trim()
    .replace(/[^A-Za-z0-9_]+/g, '_')
    .replace(/^_+|_+$/g, '')
    .slice(0, 200);
  if (slug === '') throw new Error(`invalid migration name ${JSON.stringify(name)}: use letters, digits and _`);
  return slug;
}

/**
 * The cheap path of applyMigrations: one query on `_prisma_migrations`. True
 * only when every folder has a finished, not rolled back row and no migration
 * is in a failed state (the engine must report that one). Any error (table
 * missing, ...) means "ask the engine".
 */
async function allRecordedAsApplied(
  factory: SqlMigrationAwareDriverAdapterFactory,
  folders: string[],
): Promise<boolean> {
  let conn: SqlDriverAdapter | undefined;
  try {
    conn = await factory.connect();
    const rs = await conn.queryRaw({
      sql:
        'SELECT migration_name, (finished_at IS NOT NULL) AS finished, (rolled_back_at IS NOT NULL) AS rolled_back ' +
        'FROM _prisma_migrations',
      args: [],
      argTypes: [],
    });
    const done = new Set<string>();
    for (const [name, finished, rolledBack] of rs.rows) {
      if (rolledBack === true) continue;
      if (finished !== true) return false; // a failed migration: let the engine say so
      done.add(String(name));
    }
    return folders.every((f) => done.has(f));
  } catch {
    return false;
  } finally {
    await conn?.dispose().catch(() => {});
  }
}

async function assertEmptyDatabase(factory: SqlMigrationAwareDriverAdapterFactory): Promise<void> {
  const conn = await factory.connect();
  try {
    const rs = await conn.queryRaw({
      sql:
        "SELECT count(*)::int FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace " +
        "WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') AND n.nspname NOT LIKE 'pg_temp%' " +
        "AND n.nspname NOT LIKE 'pg_toast_temp%' AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')",
      args: [],
      argTypes: [],
    });
    const count = Number(rs.rows[0]?.[0] ?? 0);
    if (count > 0) {
      throw new Error(
        `diffMigration needs an empty scratch database (the migrations are replayed into it); this one has ${count} relation(s)`,
      );
    }
  } finally {
    await conn.dispose().catch(() => {});
  }
}

/** For tests and diagnostics: whether this process already paid for loading the Wasm engine. */
export { isSchemaEngineLoaded };
