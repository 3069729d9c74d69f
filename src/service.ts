import { randomUUID } from 'node:crypto';
import type { Config } from './config.ts';
import { createAuthenticator } from './graphql/auth.ts';
import type { Services } from './graphql/context.ts';
import { Writer } from './ingest/writer.ts';
import type { Logger } from './logger.ts';
import { ChangePublisher, type SessionAnnouncement } from './realtime/change-publisher.ts';
import { SessionBus } from './realtime/session-bus.ts';
import { startHttpServer } from './server/http-server.ts';
import { ServiceMetrics } from './server/metrics.ts';
import { Sessionizer } from './sessionizer/sessionizer.ts';
import type { CloseReason } from './sessionizer/types.ts';
import { openDatabase, type Database } from './store/database.ts';
import { applyMigrations } from './store/migrate.ts';
import type { CommittedChange } from './store/pg-session-store.ts';
import { SessionReader } from './store/session-reader.ts';
import {
  loadClosedAfter,
  loadClosedFrontiers,
  loadOpenSessions,
  loadServiceState,
  viewFromSnapshot,
} from './store/session-store.ts';
import { StatsReader } from './store/stats-reader.ts';

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

function sessionizerFor(config: Config): Sessionizer {
  return new Sessionizer({
    gapMs: config.sessionGapMs,
    maxDurationMs: config.sessionMaxDurationMs,
    allowedLatenessMs: config.allowedLatenessMs,
    conversionEvents: config.conversionEvents,
    engagedMinDurationMs: config.engagedMinDurationMs,
    engagedMinEvents: config.engagedMinEvents,
    newId: randomUUID,
  });
}

/** Smallest pool with which the writer overlaps two groups (two for the writer, one for queries). */
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

/** Why each session closed in a commit (metrics). */
function closeReasons(saved: readonly CommittedChange[]): CloseReason[] {
  return saved.flatMap(({ change }) => (change.kind === 'closed' && change.session.closeReason !== null ? [change.session.closeReason] : []));
}

function announcements(saved: readonly CommittedChange[]): SessionAnnouncement[] {
  return saved.map(({ change, closeSeq }): SessionAnnouncement => {
    if (change.kind === 'removed') {
      return { kind: 'removed', sessionId: change.session.id, userId: change.session.userId, mergedInto: change.mergedInto ?? null };
    }
    const session = change.session;
    return { kind: change.kind, sessionId: session.id, userId: session.userId, view: () => viewFromSnapshot(session, closeSeq) };
  });
}

/**
 * The composition root: opens the database, applies migrations, restores the
 * open sessions, starts the single writer and the HTTP/WebSocket server.
 */
export async function startService(config: Config, logger: Logger): Promise<RunningService> {
  const database = await openDatabase({
    databaseUrl: config.databaseUrl,
    dataDir: config.dataDir,
    poolSize: config.databasePoolSize,
    onError: (error) => logger.warn({ err: error }, 'database connection error'),
  });
  let stopping = false;
  try {
    if (config.migrateOnStart) {
      const { applied } = await applyMigrations(database.adapterFactory);
      logger.info({ applied }, applied.length === 0 ? 'database schema is up to date' : 'applied migrations');
    }
    const { prisma } = database;
    const restore = async (sessionizer: Sessionizer): Promise<void> => {
      const state = await loadServiceState(prisma);
      const open = await loadOpenSessions(prisma, config.sessionGapMs);
      const maxEventTs = state.maxEventTs ?? Number.NEGATIVE_INFINITY;
      const frontiers = await loadClosedFrontiers(prisma, maxEventTs - config.allowedLatenessMs, config.sessionGapMs, config.sessionMaxDurationMs);
      sessionizer.restore(open, maxEventTs, frontiers, Date.now());
      logger.info({ openSessions: open.length, maxEventTs: state.maxEventTs }, 'restored session state');
    };
    const sessionizer = sessionizerFor(config);
    await restore(sessionizer);

    const bus = new SessionBus();
    const publisher = new ChangePublisher(bus, config.updateIntervalMs);
    // The gauges read the writer (built next) only when scraped.
    const metrics: ServiceMetrics = new ServiceMetrics({
      queueDepth: () => writer.queueDepth(),
      openSessions: () => writer.openSessions(),
      activeSubscriptions: () => bus.size(),
      writerHealthy: () => writer.healthy(),
    });
    const writer: Writer = new Writer({
      prisma,
      sessionizer,
      gapMs: config.sessionGapMs,
      allowedLatenessMs: config.allowedLatenessMs,
      maxEventsPerCommit: config.groupCommitMaxEvents,
      // Two writer transactions at once need two connections, and some left for queries.
      overlap: database.kind === 'postgres' && config.databasePoolSize >= MIN_POOL_FOR_OVERLAP,
      logger,
      observer: metrics,
      onCommit: (saved) => {
        metrics.sessionsClosed(closeReasons(saved));
        publisher.announce(announcements(saved));
      },
      reload: async () => {
        const fresh = sessionizerFor(config);
        await restore(fresh);
        return fresh;
      },
    });
    writer.start();

    const services: Services = {
      config,
      ingest: writer,
      sessions: new SessionReader(prisma),
      stats: new StatsReader(prisma),
      closures: {
        closedAfter: (cursor, userId, limit) => loadClosedAfter(prisma, cursor, userId, limit, config.sessionGapMs),
      },
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
        isReady: async () => {
          if (stopping || !writer.healthy()) return false;
          const probe = prisma.$queryRawUnsafe('SELECT 1 FROM service_state LIMIT 1').then(() => !stopping);
          return within(probe, READINESS_TIMEOUT_MS);
        },
      },
      { port: config.port, host: config.host },
    );
    logger.info({ url: http.url, database: database.kind }, 'sessions service listening');
    return {
      url: http.url,
      wsUrl: http.wsUrl,
      port: http.port,
      database,
      metrics,
      async stop() {
        if (stopping) return;
        stopping = true;
        await http.stop(); // stops accepting and closes subscriptions
        logger.debug('http server stopped');
        await writer.stop(); // commits everything already accepted
        logger.debug('writer drained');
        publisher.flushPending();
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
