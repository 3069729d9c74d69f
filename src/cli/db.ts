// Database commands that need no native Prisma engine.
//
//   tsx src/cli/db.ts migrate      apply pending prisma/migrations (= prisma migrate deploy)
//   tsx src/cli/db.ts diff NAME    write prisma/migrations/<ts>_NAME/migration.sql for the
//                                  changes in prisma/schema.prisma (= migrate dev --create-only)
//
// Target of `migrate`: DATABASE_URL, or the embedded PGlite database in
// ./.data/pglite when DATABASE_URL is unset (the service's default).
//
// Scratch database of `diff` (the migrations are replayed into it, then it is
// compared with the schema): with DATABASE_URL set, a temporary database
// `sessions_diff_<random>` created on that server and dropped afterwards;
// without it, an in-memory PGlite. `diff` never touches the DATABASE_URL
// database itself.
//
// Each outcome prints one line; failures print one `db: error: ...` line on
// stderr and exit with status 1.

import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaPGlite } from 'pglite-prisma-adapter';
import pg from 'pg';
import { applyMigrations, diffMigration, migrationSlug } from '../store/migrate.ts';

const USAGE = 'usage: tsx src/cli/db.ts migrate | diff NAME';
/** Where the service keeps embedded PGlite: DATA_DIR (default ./.data), as in src/config.ts and src/store/database.ts. */
function pgliteDir(): string {
  return path.join(nonEmpty(process.env['DATA_DIR']) ?? '.data', 'pglite');
}

class UsageError extends Error {}

async function main(argv: string[]): Promise<string> {
  const [command, ...rest] = argv;
  const databaseUrl = nonEmpty(process.env['DATABASE_URL']);
  switch (command) {
    case 'migrate':
      if (rest.length > 0) throw new UsageError(`migrate takes no arguments; ${USAGE}`);
      return migrate(databaseUrl);
    case 'diff': {
      const name = rest[0];
      if (name === undefined || rest.length > 1) throw new UsageError(`diff needs one NAME; ${USAGE}`);
      migrationSlug(name); // reject a bad name before starting any database
      return diff(name, databaseUrl);
    }
    case 'help':
    case '--help':
    case '-h':
      return USAGE;
    case undefined:
      throw new UsageError(USAGE);
    default:
      throw new UsageError(`unknown command ${JSON.stringify(command)}; ${USAGE}`);
  }
}

async function migrate(databaseUrl: string | undefined): Promise<string> {
  const started = performance.now();
  let target: string;
  let result: Awaited<ReturnType<typeof applyMigrations>>;
  if (databaseUrl !== undefined) {
    target = redact(databaseUrl);
    result = await applyMigrations(new PrismaPg({ connectionString: databaseUrl }));
  } else {
    const dir = pgliteDir();
    target = `embedded PGlite in ${dir}`;
    await mkdir(dir, { recursive: true });
    const pglite = new PGlite(path.resolve(dir));
    try {
      await pglite.waitReady;
      result = await applyMigrations(new PrismaPGlite(pglite));
    } finally {
      await pglite.close();
    }
  }
  const ms = Math.round(performance.now() - started);
  if (result.applied.length === 0) return `migrate: ${target} is up to date, no migration applied (${ms} ms)`;
  const n = result.applied.length;
  return `migrate: applied ${n} migration${n === 1 ? '' : 's'} to ${target}: ${result.applied.join(', ')} (${ms} ms)`;
}

async function diff(name: string, databaseUrl: string | undefined): Promise<string> {
  let outcome: Awaited<ReturnType<typeof diffMigration>>;
  if (databaseUrl !== undefined) {
    outcome = await withScratchDatabase(databaseUrl, (url) => diffMigration(new PrismaPg({ connectionString: url }), name));
  } else {
    const pglite = new PGlite();
    try {
      await pglite.waitReady;
      outcome = await diffMigration(new PrismaPGlite(pglite), name);
    } finally {
      await pglite.close();
    }
  }
  if (!outcome.created) return 'diff: no changes, prisma/schema.prisma matches prisma/migrations; nothing written';
  const file = path.relative(process.cwd(), path.join(outcome.dir, 'migration.sql'));
  const statements = outcome.sql.split(/;\s*(?:\n|$)/).filter((s) => s.replace(/--.*$/gm, '').trim() !== '').length;
  return `diff: wrote ${file} (${statements} statement${statements === 1 ? '' : 's'})`;
}

/** Create `sessions_diff_<random>` on the server of `serverUrl`, run `fn` on it, drop it. */
async function withScratchDatabase<T>(serverUrl: string, fn: (url: string) => Promise<T>): Promise<T> {
  const dbName = `sessions_diff_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE "${dbName}"`);
    try {
      const url = new URL(serverUrl);
      url.pathname = `/${dbName}`;
      return await fn(url.toString());
    } finally {
      await admin.query(`DROP DATABASE IF EXISTS "${dbName}"`);
    }
  } finally {
    await admin.end();
  }
}

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v.trim() === '' ? undefined : v.trim();
}

/** The URL without its password, for messages. */
function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '***';
    return u.toString();
  } catch {
    return '(DATABASE_URL)';
  }
}

function oneLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  const first = msg.split('\n').map((l) => l.trim()).filter((l) => l !== '').join(' ');
  return first === '' ? String(err) : first;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main(process.argv.slice(2)).then(
    (line) => {
      process.stdout.write(`${line}\n`);
    },
    (err: unknown) => {
      process.stderr.write(`db: error: ${oneLine(err)}\n`);
      if (process.env['DEBUG'] && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
      process.exitCode = 1;
    },
  );
}

export { main as runDbCli };
