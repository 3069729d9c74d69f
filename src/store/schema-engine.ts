// Prisma's schema engine (the thing behind `prisma migrate deploy` and
// `prisma migrate diff`) compiled to Wasm: @prisma/schema-engine-wasm.
//
// Its package entry point does `import * as wasm from "./schema_engine_bg.wasm"`
// (wasm-bindgen's "bundler" target), which Node cannot import. So we load the
// JS glue (`./schema_engine_bg.js`, exported as
// `@prisma/schema-engine-wasm/schema_engine_bg`) ourselves, instantiate the
// .wasm with that glue as the `./schema_engine_bg.js` import module, hand the
// instance back to the glue (`__wbg_set_wasm`) and run `__wbindgen_start`.
// This is what Prisma's own CLI does (WasmSchemaEngineLoader in
// @prisma/internals).
//
// The glue keeps the instance in a module-level variable, so the module is
// compiled and instantiated once per process (instantiating it twice is what
// makes wasm-bindgen fail with `unwrap_throw failed`); every engine created
// afterwards (`SchemaEngine.new`) shares it.

import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type {
  ErrorCapturingSqlMigrationAwareDriverAdapterFactory,
  SqlDriverAdapter,
  SqlMigrationAwareDriverAdapterFactory,
} from '@prisma/driver-adapter-utils';
import { bindMigrationAwareSqlAdapterFactory } from '@prisma/driver-adapter-utils';
import type { SchemaEngine } from '@prisma/schema-engine-wasm';
import type { PoolConfig } from 'pg';

export type {
  ApplyMigrationsOutput,
  DiffParams,
  DiffResult,
  MigrationList,
  SchemaEngine,
  SchemaFilter,
} from '@prisma/schema-engine-wasm';

type Glue = typeof import('@prisma/schema-engine-wasm/schema_engine_bg');

/** What the engine needs besides the glue: the runtime module and its class. */
interface LoadedEngine {
  glue: Glue;
  /** @prisma/schema-engine-wasm version (same as the engines hash of the Prisma CLI). */
  version: string;
  /** Time spent compiling + instantiating the Wasm module, in ms. */
  loadMs: number;
}

let loaded: Promise<LoadedEngine> | undefined;

/** The part of the WebAssembly global we use (tsconfig has no DOM lib, and @types/node 20 does not declare it). */
type WasmImports = Record<string, Record<string, unknown>>;
interface WasmGlobal {
  instantiate(bytes: Uint8Array, imports: WasmImports): Promise<{ instance: { exports: Record<string, unknown> } }>;
  RuntimeError: new (message?: string) => Error;
}
const Wasm = (globalThis as unknown as { WebAssembly: WasmGlobal }).WebAssembly;

/**
 * Panic messages from Rust go through `globalThis.PRISMA_WASM_PANIC_REGISTRY`
 * (a global the glue calls into). @prisma/client installs its own when it is
 * loaded; we only install one when none is there, and read the last message
 * back when a call dies with a Wasm trap.
 */
let lastPanicMessage: string | undefined;
function ensurePanicRegistry(): void {
  const g = globalThis as { PRISMA_WASM_PANIC_REGISTRY?: { set_message(msg: string): void } };
  if (g.PRISMA_WASM_PANIC_REGISTRY === undefined) {
    g.PRISMA_WASM_PANIC_REGISTRY = {
      set_message(msg: string) {
        lastPanicMessage = msg;
      },
    };
  }
}

async function load(): Promise<LoadedEngine> {
  const started = performance.now();
  ensurePanicRegistry();
  const require = createRequire(import.meta.url);
  // `exports` maps this subpath to ./schema_engine_bg.js; the .wasm sits next to it.
  const gluePath = require.resolve('@prisma/schema-engine-wasm/schema_engine_bg');
  const wasmPath = gluePath.replace(/schema_engine_bg\.js$/, 'schema_engine_bg.wasm');
  const [glue, bytes] = await Promise.all([
    import('@prisma/schema-engine-wasm/schema_engine_bg') as Promise<Glue>,
    readFile(wasmPath),
  ]);
  const { instance } = await Wasm.instantiate(bytes, {
    './schema_engine_bg.js': withUnrefTimers(glue),
  });
  glue.__wbg_set_wasm(instance.exports);
  const start = instance.exports['__wbindgen_start'];
  if (typeof start === 'function') (start as () => void)();
  return { glue, version: glue.version(), loadMs: performance.now() - started };
}

/**
 * The engine wraps some operations in timeouts (10 s around
 * `pg_advisory_lock(72707369)`, as the native engine does), implemented with
 * the glue's `setTimeout` import, and the glue has no `clearTimeout`: every
 * such timer stays armed after the command finished and keeps a CLI process
 * alive for 10 s. Unref them: they only ever race an operation that holds the
 * event loop open by itself (a socket, or promise work on PGlite).
 */
function withUnrefTimers(glue: Glue): Record<string, unknown> {
  const imports: Record<string, unknown> = { ...glue };
  for (const key of Object.keys(imports)) {
    if (key.startsWith('__wbg_setTimeout_')) {
      const original = imports[key] as (cb: () => void, ms: number) => unknown;
      imports[key] = (cb: () => void, ms: number) => {
        const timer = original(cb, ms);
        (timer as { unref?: () => void } | undefined)?.unref?.();
        return timer;
      };
    }
  }
  return imports;
}

/** Compile and instantiate the Wasm schema engine (once per process). */
export function loadSchemaEngineWasm(): Promise<LoadedEngine> {
  if (loaded === undefined) {
    loaded = load();
    // A failed load may be retried by the next caller.
    loaded.catch(() => {
      loaded = undefined;
    });
  }
  return loaded;
}

/** True once the Wasm module has been instantiated in this process. */
export function isSchemaEngineLoaded(): boolean {
  return loaded !== undefined;
}

export interface OpenEngineOptions {
  /**
   * Prisma schema files as [path, content] pairs. Only needed by commands that
   * read "the" schema implicitly; migrate/diff pass schemas explicitly.
   */
  datamodels?: [string, string][];
  /** Receives the engine's log lines (JSON strings); dropped when omitted. */
  log?: (line: string) => void;
}

/**
 * A schema engine bound to one database (through a driver adapter factory).
 * Call `close()` when done: it frees the Wasm-side engine and disposes the
 * adapter connections it opened (the engine itself does not).
 */
export interface EngineHandle {
  engine: SchemaEngine;
  adapter: ErrorCapturingSqlMigrationAwareDriverAdapterFactory;
  /** Run one engine command, turning engine/adapter failures into readable Errors. */
  run<T>(command: string, call: (engine: SchemaEngine) => Promise<T>): Promise<T>;
  /** Free the engine and dispose every connection it opened (idempotent). */
  close(): Promise<void>;
}

/**
 * Create a schema engine talking to the database of `adapterFactory`
 * (`new PrismaPg(...)` or `new PrismaPGlite(pglite)`; any
 * SqlMigrationAwareDriverAdapterFactory). The factory is wrapped with
 * `bindMigrationAwareSqlAdapterFactory`, which is what the engine expects (it
 * returns Result objects instead of throwing, and records driver errors in an
 * error registry that we consult when a command fails).
 */
export async function openSchemaEngine(
  adapterFactory: SqlMigrationAwareDriverAdapterFactory,
  opts: OpenEngineOptions = {},
): Promise<EngineHandle> {
  const { glue } = await loadSchemaEngineWasm();
  const tracked = trackConnections(await ownPool(adapterFactory));
  const adapter = bindMigrationAwareSqlAdapterFactory(tracked.factory);
  const log = opts.log ?? (() => {});
  let engine: SchemaEngine;
  try {
    engine = await wrapErrors(adapter, 'connect', () =>
      glue.SchemaEngine.new({ datamodels: opts.datamodels }, log, adapter),
    );
  } catch (err) {
    await tracked.disposeAll();
    throw err;
  }
  let closed: Promise<void> | undefined;
  return {
    engine,
    adapter,
    run: (command, call) => wrapErrors(adapter, command, () => call(engine)),
    close() {
      closed ??= (async () => {
        engine.free();
        await tracked.disposeAll();
      })();
      return closed;
    },
  };
}

/**
 * A PrismaPg built on the application's own pg.Pool (`new PrismaPg(pool)`)
 * would run the engine's `SELECT pg_advisory_lock(72707369)` on a pooled
 * connection that goes back to the pool still holding the session lock (the
 * engine never unlocks; it relies on the connection closing), and the fixes
 * below patch the pool they run on. Give the engine a pool of its own, built
 * from the same options, that is ended on close. This reads PrismaPg's private
 * `externalPool`/`config`/`options` fields; when they are not there the
 * factory is used as it is.
 */
async function ownPool(factory: SqlMigrationAwareDriverAdapterFactory): Promise<SqlMigrationAwareDriverAdapterFactory> {
  const f = factory as unknown as { externalPool?: unknown; config?: unknown; options?: unknown };
  if (factory.adapterName !== PG_ADAPTER || f.externalPool == null || typeof f.config !== 'object') {
    return factory;
  }
  const { PrismaPg } = await import('@prisma/adapter-pg');
  const source = f.config as PoolConfig;
  // pg.Pool keeps `password` as a non-enumerable property: copy it by hand.
  const config: PoolConfig = { ...source, max: 2 };
  if (source.password !== undefined) config.password = source.password;
  return new PrismaPg(config, f.options as ConstructorParameters<typeof PrismaPg>[1]);
}

const PG_ADAPTER = '@prisma/adapter-pg';
const PGLITE_ADAPTER = 'pglite-prisma-adapter';

/**
 * Every adapter the engine gets goes through here:
 *
 * - `engine.free()` does not dispose the driver adapters the engine opened:
 *   with @prisma/adapter-pg that leaves a pg.Pool open whose connection still
 *   holds the session-level `pg_advisory_lock(72707369)` taken by
 *   applyMigrations, so the next engine on that database waits 10 s for the
 *   lock (then goes on anyway). We track them and dispose them on close.
 * - The adapters' `executeScript` (how the engine runs a migration.sql) is
 *   unfit for migrations, see {@link fixExecuteScript}.
 * - @prisma/adapter-pg cannot read Postgres' `"char"` type, which the engine's
 *   introspection needs, see {@link readCharAsText}.
 */
function trackConnections(factory: SqlMigrationAwareDriverAdapterFactory): {
  factory: SqlMigrationAwareDriverAdapterFactory;
  disposeAll(): Promise<void>;
} {
  const open = new Set<SqlDriverAdapter>();
  const track = (a: SqlDriverAdapter): SqlDriverAdapter => {
    open.add(a);
    if (factory.adapterName === PG_ADAPTER) readCharAsText(a);
    const executeScript = fixExecuteScript(factory.adapterName, a);
    return intercept(a, (target, prop) => {
      if (prop === 'dispose') {
        return async () => {
          if (!open.delete(target)) return;
          await target.dispose();
        };
      }
      if (prop === 'executeScript') return executeScript;
      return undefined;
    });
  };
  return {
    factory: {
      provider: factory.provider,
      adapterName: factory.adapterName,
      connect: async () => track(await factory.connect()),
      connectToShadowDb: async () => track(await factory.connectToShadowDb()),
    },
    async disposeAll() {
      const all = [...open];
      open.clear();
      await Promise.allSettled(all.map((a) => a.dispose()));
    },
  };
}

/**
 * Proxy `obj`: `override(target, prop)` may return a replacement for a
 * property; everything else is the target's own, methods bound to it (so
 * optional adapter methods the engine probes for keep working).
 */
function intercept<T extends object>(obj: T, override: (target: T, prop: string | symbol) => unknown): T {
  return new Proxy(obj, {
    get(target, prop) {
      const replaced = override(target, prop);
      if (replaced !== undefined) return replaced;
      const v: unknown = Reflect.get(target, prop, target);
      return typeof v === 'function' ? (v as (...args: unknown[]) => unknown).bind(target) : v;
    },
  });
}

type ExecuteScript = SqlDriverAdapter['executeScript'];

/**
 * The schema engine applies a migration with one `executeScript(sql)` call.
 * Neither adapter does what the native engine does (send the whole file as
 * one simple-protocol query, which Postgres runs as one implicit transaction):
 *
 * - @prisma/adapter-pg 7.10 splits the script on every `;` and runs the
 *   pieces one by one on whatever pooled connection is free: a failing
 *   migration stays half applied, and a `;` inside a string or a `$$` function
 *   body breaks the statement.
 * - pglite-prisma-adapter 0.7.2 calls `client.exec(script)` without awaiting
 *   it: a failing migration is recorded in `_prisma_migrations` as applied
 *   (while Postgres rolled it back) and its error surfaces as an unhandled
 *   promise rejection.
 *
 * So for these two adapters the script is sent whole, awaited, and errors go
 * through the adapter's own error conversion (`onError`), as its other
 * methods do. Other adapters keep their own executeScript.
 */
function fixExecuteScript(adapterName: string, a: SqlDriverAdapter): ExecuteScript {
  const internals = a as unknown as {
    underlyingDriver?: () => { query(sql: string): Promise<unknown> };
    client?: { exec?: (sql: string) => Promise<unknown> };
    onError?: (err: unknown) => never;
  };
  const onError = typeof internals.onError === 'function' ? internals.onError.bind(a) : (err: unknown): never => {
    throw err;
  };
  if (adapterName === PG_ADAPTER && typeof internals.underlyingDriver === 'function') {
    const pool = internals.underlyingDriver();
    return async (script) => {
      try {
        await pool.query(script);
      } catch (err) {
        onError(err);
      }
    };
  }
  const client = internals.client;
  if (adapterName === PGLITE_ADAPTER && typeof client?.exec === 'function') {
    return async (script) => {
      try {
        await client.exec!(script);
      } catch (err) {
        onError(err);
      }
    };
  }
  return a.executeScript.bind(a);
}

/**
 * @prisma/adapter-pg 7.10 has no column type for Postgres' internal `"char"`
 * (OID 18: pg_constraint.contype, pg_class.relkind, ...); any result with
 * such a column fails with UnsupportedNativeDataType, reported by the engine
 * as "Column type 'char' could not be deserialized from the database". The
 * engine's schema introspection (used by `diff` and `migrate dev`) selects
 * several of them, so it fails on a real server (pglite-prisma-adapter maps
 * the type). pg returns a "char" value as a one-character string anyway, so
 * the fix is to present those result columns as text (OID 25) to the adapter.
 * The pool patched here belongs to this adapter alone (PrismaPg creates one
 * per connect(); `ownPool` replaces a shared one).
 */
function readCharAsText(a: SqlDriverAdapter): void {
  const driver = (a as unknown as { underlyingDriver?: () => unknown }).underlyingDriver;
  if (typeof driver !== 'function') return;
  const pool = driver.call(a) as {
    query: (...args: unknown[]) => unknown;
    connect: (...args: unknown[]) => unknown;
  };
  const retype = <R>(res: R): R => {
    for (const r of Array.isArray(res) ? res : [res]) {
      const fields = (r as { fields?: { dataTypeID: number }[] } | null)?.fields;
      for (const f of fields ?? []) if (f.dataTypeID === 18) f.dataTypeID = 25;
    }
    return res;
  };
  const patchQuery = (target: { query: (...args: unknown[]) => unknown }) => {
    const query = target.query.bind(target);
    target.query = (...args: unknown[]) => {
      const out = query(...args);
      return out instanceof Promise ? out.then(retype) : out;
    };
  };
  patchQuery(pool);
  // Transactions run on a client checked out with pool.connect().
  const connect = pool.connect.bind(pool);
  const patched = new WeakSet<object>();
  pool.connect = (...args: unknown[]) => {
    if (args.length > 0) return connect(...args); // callback style: not used by the adapter
    return (connect() as Promise<{ query: (...a: unknown[]) => unknown }>).then((client) => {
      if (!patched.has(client)) {
        patched.add(client);
        patchQuery(client);
      }
      return client;
    });
  };
}

/** Error thrown for any failed schema-engine command. */
export class SchemaEngineError extends Error {
  override readonly name = 'SchemaEngineError';
  /** Prisma error code (e.g. P3018) or driver error kind, when the engine gave one. */
  readonly code: string | undefined;
  constructor(message: string, code: string | undefined, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

async function wrapErrors<T>(
  adapter: ErrorCapturingSqlMigrationAwareDriverAdapterFactory,
  command: string,
  fn: () => Promise<T>,
): Promise<T> {
  lastPanicMessage = undefined;
  try {
    return await fn();
  } catch (raw) {
    throw toEngineError(adapter, command, raw);
  }
}

function toEngineError(
  adapter: ErrorCapturingSqlMigrationAwareDriverAdapterFactory,
  command: string,
  raw: unknown,
): SchemaEngineError {
  // Driver errors (connection refused, SQL errors in a migration...) are kept
  // in the adapter's registry; the engine only sees an id.
  const id = externalErrorId(raw);
  const fromRegistry = id === undefined ? undefined : adapter.errorRegistry.consumeError(id);
  if (fromRegistry !== undefined) {
    const inner = fromRegistry.error;
    const msg = inner instanceof Error ? inner.message : String(inner);
    return new SchemaEngineError(`schema engine ${command}: ${msg}`, undefined, { cause: inner });
  }
  if (raw instanceof Wasm.RuntimeError) {
    const detail = lastPanicMessage ?? raw.message;
    return new SchemaEngineError(`schema engine ${command} panicked: ${detail}`, undefined, { cause: raw });
  }
  if (raw instanceof Error) {
    const code = (raw as { code?: unknown }).code;
    // Engine errors end with a Rust span trace ("   0: schema_engine_wasm::...").
    const msg = raw.message
      .split(/\n\s*0: /)[0]!
      .trim()
      .replace(/\s*\n\s*/g, ' ');
    return new SchemaEngineError(
      `schema engine ${command}: ${typeof code === 'string' ? `${code} ` : ''}${msg}`,
      typeof code === 'string' ? code : undefined,
      { cause: raw },
    );
  }
  return new SchemaEngineError(`schema engine ${command}: ${String(raw)}`, undefined, { cause: raw });
}

/** The id of a driver error parked in the adapter's error registry, if `raw` refers to one. */
function externalErrorId(raw: unknown): number | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const r = raw as { id?: unknown; meta?: { id?: unknown } };
  if (typeof r.meta?.id === 'number') return r.meta.id;
  if (typeof r.id === 'number') return r.id;
  return undefined;
}
