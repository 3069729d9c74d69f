import { randomBytes, randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { ClusterFeed } from './cluster/change-feed.ts';
import { ClusterMetrics } from './cluster/cluster-metrics.ts';
import { ensureSettings, instances, liveInstances } from './cluster/cluster-store.ts';
import { advertisedUrl } from './cluster/advertise.ts';
import { internalApi } from './cluster/internal-api.ts';
import { Ownership } from './cluster/ownership.ts';
import { DEFAULT_PARTITIONS } from './cluster/partition.ts';
import { ClusterIngest } from './cluster/router.ts';
import type { Config } from './config.ts';
import { createAuthenticator } from './graphql/auth.ts';
import type { Services } from './graphql/context.ts';
import { Writer } from './ingest/writer.ts';
import type { Logger } from './logger.ts';
import { ChangePublisher, type SessionAnnouncement } from './realtime/change-publisher.ts';
import { SessionBus } from './realtime/session-bus.ts';
import { admissionGate } from './server/admission-gate.ts';
import { GRAPHQL_PATH, startHttpServer } from './server/http-server.ts';
import { ServiceMetrics } from './server/metrics.ts';
import { Sessionizer } from './sessionizer/sessionizer.ts';
import type { CloseReason } from './sessionizer/types.ts';
import type { SessionDefinition } from './definitions/definitions.ts';
import { buildStep } from './ingest/definition-build.ts';
import { Lane, Lanes } from './ingest/lanes.ts';
import { DefinitionCatalog, buildProgress } from './store/definition-catalog.ts';
import { loadDefinitionRows, loadLanePlans, reconcileDefinitions, type LanePlan } from './store/definition-store.ts';
import { openDatabase, type Database } from './store/database.ts';
import { applyMigrations } from './store/migrate.ts';
import type { CommittedChange } from './store/pg-session-store.ts';
import { countClosedAfter } from './store/closure-count.ts';
import { SessionReader } from './store/session-reader.ts';
import {
  loadClosedAfter,
  loadClosedFrontiers,
  loadLastWrites,
  loadOpenSessions,
  loadServiceState,
  viewFromSnapshot,
} from './store/session-store.ts';
import { StatsReader } from './store/stats-reader.ts';
import { startTableStatistics } from './store/table-statistics.ts';
import { startRollupCompactor } from './store/rollup-compactor.ts';

/** A started service: where it listens and how to stop it. */
export interface RunningService {
  readonly url: string;
  readonly wsUrl: string;
  readonly port: number;
  readonly database: Database;
  /** The service's metrics (also served at GET /metrics); the realtime side reports through it. */
  readonly metrics: ServiceMetrics;
  /** Graceful stop: stop accepting, finish the writer, close subscriptions, disconnect. */
  stop(): Promise<void>;
}

function sessionizerFor(config: Config, definition: SessionDefinition): Sessionizer {
  return new Sessionizer({ ...definition.rules, allowedLatenessMs: config.allowedLatenessMs, newId: randomUUID });
}

/** Fresh lanes (empty sessionizers) for the builds the writer runs. */
function lanesFor(config: Config, plans: readonly LanePlan[]): Lanes {
  return new Lanes(plans.map((plan) => new Lane(plan.definition, plan.key, sessionizerFor(config, plan.definition), plan.status === 'READY')));
}

/** How often an instance looks for definitions another instance finished building, while some are building. */
const DEFINITION_POLL_MS = 1_000;

/** Smallest writer pool with which the writer overlaps two groups (two transactions, one for cluster leases and claims). */
const MIN_POOL_FOR_OVERLAP = 3;

/** Longest a readiness probe waits for the database (a probe that hangs is as bad as one that fails). */
const READINESS_TIMEOUT_MS = 2_000;

/** Resolves like `promise`, or false after `ms`. */
function within(promise: Promise<boolean>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** A unique id per process, readable in logs (several processes may share a host). */
function instanceId(): string {
  return `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
}

/** Why each session closed in a commit (metrics). */
function closeReasons(saved: readonly CommittedChange[]): CloseReason[] {
  return saved.flatMap(({ change, announce }) =>
    announce && change.kind === 'closed' && change.session.closeReason !== null ? [change.session.closeReason] : [],
  );
}

/** The announced changes (a definition being rebuilt announces nothing until it is ready). */
function announcements(saved: readonly CommittedChange[]): SessionAnnouncement[] {
  return saved
    .filter((c) => c.announce)
    .map(({ change, closeSeq, definition }): SessionAnnouncement => {
      if (change.kind === 'removed') {
        return { kind: 'removed', sessionId: change.session.id, userId: change.session.userId, definition, mergedInto: change.mergedInto ?? null };
      }
      const session = change.session;
      return { kind: change.kind, sessionId: session.id, userId: session.userId, definition, view: () => viewFromSnapshot(session, closeSeq, definition) };
    });
}

/**
 * The composition root: opens the database, applies migrations, restores the
 * open sessions, starts the single writer and the HTTP/WebSocket server.
 */
export async function startService(config: Config, logger: Logger): Promise<RunningService> {
  // Names this process's connections: while one is open the others know it lives (src/cluster/cluster-store.ts).
  const backendName = config.databaseUrl === null ? null : `sessions:${instanceId()}`;
  const database = await openDatabase({
    databaseUrl: config.databaseUrl,
    dataDir: config.dataDir,
    // The writer's own pool; queries get theirs (DATABASE_POOL_SIZE, under QUERY_TIMEOUT) and never take its connections.
    poolSize: config.load.writerPoolSize,
    queryPoolSize: config.databasePoolSize,
    queryTimeoutMs: config.load.queryTimeoutMs,
    ...(backendName === null ? {} : { applicationName: backendName }),
    onError: (error) => logger.warn({ err: error }, 'database connection error'),
  });
  let stopping = false;
  try {
    if (config.migrateOnStart) {
      const { applied } = await applyMigrations(database.adapterFactory);
      logger.info({ applied }, applied.length === 0 ? 'database schema is up to date' : 'applied migrations');
    }
    const { prisma, queries } = database;
    const settings = await ensureSettings(prisma, {
      partitions: config.cluster.partitions ?? DEFAULT_PARTITIONS,
      partitionsExplicit: config.cluster.partitions !== null,
      secret: randomBytes(24).toString('hex'),
    });
    const secret = config.cluster.secret ?? settings.secret;
    const { failoverMs } = config.cluster;
    const plans = await reconcileDefinitions(prisma, config.definitions, settings.partitions);
    for (const plan of plans) {
      if (plan.status === 'BUILDING') logger.info({ definition: plan.definition.name, build: plan.key }, 'definition is new or changed: building it from the stored events');
    }
    const catalog = await DefinitionCatalog.open(prisma, config.definitions, config.sessionGapMs);
    /** Loads the state of the given partitions (null: all) into fresh lanes. */
    const restore = async (lanes: Lanes, partitions: readonly number[] | null): Promise<void> => {
      const state = await loadServiceState(prisma);
      const maxEventTs = state.maxEventTs ?? Number.NEGATIVE_INFINITY;
      let openSessions = 0;
      for (const lane of lanes.list) {
        const { rules } = lane.definition;
        const open = await loadOpenSessions(prisma, rules.gapMs, partitions, lane.key);
        const frontiers = await loadClosedFrontiers(prisma, maxEventTs - config.allowedLatenessMs, rules.gapMs, rules.maxDurationMs, partitions, lane.key);
        const lastReceived = await loadLastWrites(prisma, partitions, lane.key);
        lane.sessionizer.restore(open, maxEventTs, frontiers, Date.now(), lastReceived);
        openSessions += open.length;
      }
      logger.info(
        { openSessions, definitions: lanes.list.length, maxEventTs: state.maxEventTs, partitions: partitions?.length ?? settings.partitions },
        'restored session state',
      );
    };
    /** The partitions the writer's memory holds (null: all), for the definition builds. */
    let loadedPartitions: readonly number[] | null = [];

    const bus = new SessionBus();
    const publisher = new ChangePublisher(bus, config.updateIntervalMs);
    const ownership: Ownership = new Ownership({
      prisma,
      partitions: settings.partitions,
      failoverMs,
      // One process on an embedded database: nobody else can share it.
      solo: database.kind === 'pglite',
      newId: instanceId,
      backendName,
      logger,
      observer: { claimed: (n, failover) => clusterMetrics.claimed(n, failover), released: (n) => clusterMetrics.released(n) },
      writerStuck: () => writer.stuck(failoverMs),
    });
    const feed =
      config.databaseUrl === null
        ? null
        : new ClusterFeed({
            databaseUrl: config.databaseUrl,
            backendName: backendName ?? '',
            prisma,
            publisher,
            listens: (topic) => bus.listens(topic),
            gapOf: catalog.gapOf,
            logger,
            self: () => ownership.id(),
            peers: () => ownership.hasPeers(),
            onClusterChange: () => void ownership.poke(),
          });
    // The gauges read the writer (built next) only when scraped.
    const metrics: ServiceMetrics = new ServiceMetrics({
      queueDepth: () => writer.queueDepth(),
      openSessions: () => writer.openSessions(),
      activeSubscriptions: () => bus.size(),
      writerHealthy: () => writer.healthy(),
    });
    const clusterMetrics = new ClusterMetrics(metrics.registry, () => ownership.heldPartitions().length);
    // Keeps the tables' planner statistics: at their first rows, then whenever more rows changed than they held (table-statistics.ts).
    const tableStatistics = startTableStatistics(prisma, { logger });
    const writer: Writer = new Writer({
      prisma,
      // Holds nothing until ownership claims partitions and reloads it.
      lanes: lanesFor(config, plans),
      allowedLatenessMs: config.allowedLatenessMs,
      maxEventsPerCommit: config.groupCommitMaxEvents,
      partitions: settings.partitions,
      // Two writer transactions at once need two connections, and one left for the cluster's leases.
      overlap: database.kind === 'postgres' && config.load.writerPoolSize >= MIN_POOL_FOR_OVERLAP,
      maxQueuedEvents: config.load.maxQueuedEvents,
      faultEventId: config.load.testFaultEventId,
      logger,
      observer: metrics,
      fence: (tx) => ownership.fence(tx),
      ...(feed === null ? {} : { beforeCommit: (tx: Parameters<typeof feed.beforeCommit>[0], saved: readonly CommittedChange[]) => feed.beforeCommit(tx, saved) }),
      onCommit: (saved) => {
        tableStatistics.committed();
        metrics.sessionsClosed(closeReasons(saved));
        publisher.announce(announcements(feed === null ? saved : feed.local(saved)));
      },
      reload: async () => {
        const held = await ownership.syncForReload();
        const fresh = lanesFor(config, await loadLanePlans(prisma, config.definitions));
        const partitions = held.length === settings.partitions ? null : held;
        await restore(fresh, partitions);
        ownership.markLoaded(held);
        loadedPartitions = partitions;
        return fresh;
      },
      build: (tx, lanes, store, nowMs) => buildStep(tx, lanes, store, loadedPartitions, settings.partitions, nowMs, config.definitionBuildStepEvents),
    });
    // Another instance may finish a build: its definition then announces here too.
    let polling = false;
    const poll = setInterval(() => {
      const lanes = writer.currentLanes();
      if (polling || stopping || lanes.list.every((lane) => lane.announce)) return;
      polling = true;
      loadDefinitionRows(queries)
        .then((rows) => {
          metrics.definitionProgress(rows.map((r) => ({ definition: r.name, progress: buildProgress(r) ?? 1 })));
          for (const row of rows) {
            const lane = writer.currentLanes().byName(row.name);
            if (lane !== undefined && !lane.announce && row.status === 'READY' && row.activeKey === lane.key) lane.announce = true;
          }
        })
        .catch((error: unknown) => logger.warn({ err: error }, 'reading the definitions failed'))
        .finally(() => {
          polling = false;
        });
    }, DEFINITION_POLL_MS);
    poll.unref();
    writer.start();
    const ingest = new ClusterIngest({
      writer,
      ownership,
      partitions: settings.partitions,
      secret,
      // A dead owner's partitions move within the failover time; a request may wait that long, plus the load.
      retryMs: failoverMs + 5_000,
      forwardTimeoutMs: failoverMs,
      peers: () => liveInstances(prisma),
      logger,
      observer: clusterMetrics,
    });

    const services: Services = {
      config,
      ingest,
      cluster: {
        state: async () => ({ self: ownership.id(), partitions: settings.partitions, instances: await instances(queries) }),
      },
      sessions: new SessionReader(queries),
      stats: new StatsReader(queries),
      closures: {
        closedAfter: (cursor, definition, userId, limit) => loadClosedAfter(queries, cursor, definition, userId, limit, catalog.gapOf),
        countAfter: (cursor, definition, userId, limit) => countClosedAfter(queries, cursor, definition, userId, limit),
      },
      definitions: catalog,
      bus,
      now: Date.now,
    };
    const authenticator = createAuthenticator(config.apiKeys);
    if (authenticator.open) {
      logger.warn('no API keys configured (INGEST_API_KEYS, READ_API_KEYS, ADMIN_API_KEYS): every caller has every role');
    }
    const http = await startHttpServer(
      {
        services,
        authenticator,
        logger,
        metrics,
        routes: [
          admissionGate({
            path: GRAPHQL_PATH,
            overloaded: () => writer.overloaded(),
            maxInflightBytes: config.load.maxInflightBodyBytes,
            refused: () => metrics.admissionRefused(0),
          }),
          internalApi({ secret, ownership, writer, partitions: settings.partitions, bodyLimitBytes: config.bodyLimitBytes * 2, logger }),
        ],
        isReady: async () => {
          if (stopping || !writer.healthy() || !ownership.loaded()) return false;
          const probe = queries.$queryRawUnsafe('SELECT 1 FROM service_state LIMIT 1').then(() => !stopping);
          return within(probe, READINESS_TIMEOUT_MS);
        },
      },
      { port: config.port, host: config.host },
    );
    const compactor = startRollupCompactor(prisma, { logger });
    try {
      await feed?.start();
      await ownership.start(config.cluster.advertiseUrl ?? advertisedUrl(config.host, http.port), () => writer.reloadState());
    } catch (error) {
      clearInterval(poll);
      await compactor.stop();
      await tableStatistics.stop();
      await http.stop().catch(() => undefined);
      await writer.stop().catch(() => undefined);
      await feed?.stop().catch(() => undefined);
      throw error;
    }
    logger.info(
      { url: http.url, database: database.kind, instance: ownership.id(), partitions: ownership.heldPartitions().length },
      'sessions service listening',
    );
    return {
      url: http.url,
      wsUrl: http.wsUrl,
      port: http.port,
      database,
      metrics,
      async stop() {
        if (stopping) return;
        stopping = true;
        clearInterval(poll);
        // Hands the partitions over (after the writer finished what was queued for them) so the others serve them at once.
        await ownership.leave().catch((error: unknown) => logger.warn({ err: error }, 'cluster: handover failed; the lease will expire'));
        await http.stop(); // stops accepting and closes subscriptions
        logger.debug('http server stopped');
        await writer.stop(); // commits everything already accepted
        logger.debug('writer drained');
        await compactor.stop();
        await tableStatistics.stop();
        publisher.flushPending();
        await feed?.stop();
        await ownership.stop();
        await database.close();
        logger.debug('database closed');
        logger.info('sessions service stopped');
      },
    };
  } catch (error) {
    await database.close().catch(() => undefined);
    throw error;
  }
}
