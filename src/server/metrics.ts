import type { Request, Response } from 'express';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { createKeyCheck } from '../graphql/auth.ts';
import { ErrorCode, RejectCode } from '../graphql/errors.ts';
import type { IngestObserver, IngestReport } from '../graphql/resolvers.ts';
import type { BuildOutcome } from '../ingest/definition-build.ts';
import type { WriterObserver } from '../ingest/writer.ts';
import type { SegmentObserver } from './segment/router.ts';
import type { CloseReason } from '../sessionizer/types.ts';

/** Live values read at scrape time. */
export interface MetricSources {
  /** Events waiting in the writer queue. */
  readonly queueDepth: () => number;
  /** OPEN sessions in memory. */
  readonly openSessions: () => number;
  /** Live subscriptions on the session bus. */
  readonly activeSubscriptions: () => number;
  /** False while the writer rebuilds its state after a failed commit. */
  readonly writerHealthy: () => boolean;
}

/** Counts the realtime side reports (the WebSocket server calls these). */
export interface RealtimeMetrics {
  /** `count` subscription results (graphql-ws `next` messages) handed to an open socket. Default 1. */
  wsMessageSent(count?: number): void;
  /**
   * `count` subscription messages never handed to a socket because its
   * connection was cut off as a slow consumer (a subscription too far behind,
   * or a send buffer that stayed full). Default 1.
   */
  wsMessageDropped(count?: number): void;
}

/** Commit latencies from 1 ms to 10 s (seconds). */
const COMMIT_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const CLOSE_REASONS: readonly CloseReason[] = ['INACTIVITY', 'MAX_DURATION', 'FLUSH'];
/** Codes an event can be refused with: one by one, or with its whole mutation. */
const REJECT_CODES: readonly string[] = [
  ...Object.values(RejectCode),
  ErrorCode.BatchTooLarge,
  ErrorCode.Unavailable,
  ErrorCode.ShuttingDown,
];

/**
 * The service's Prometheus metrics on a registry of its own (several services
 * may run in one process, as in the tests). Counters are fed by the resolvers
 * (IngestObserver), the writer (WriterObserver), the composition root
 * (closures) and the realtime side (RealtimeMetrics); gauges read their
 * sources when scraped.
 */
export class ServiceMetrics implements IngestObserver, WriterObserver, RealtimeMetrics, SegmentObserver {
  readonly registry = new Registry();
  private readonly eventsAccepted: Counter;
  private readonly eventsDuplicate: Counter;
  private readonly eventsRejected: Counter<'code'>;
  private readonly batches: Counter<'result'>;
  private readonly commitSeconds: Histogram;
  private readonly commitFailures: Counter;
  private readonly corrections: Counter;
  private readonly sessionsClosedTotal: Counter<'reason'>;
  private readonly wsSent: Counter;
  private readonly wsDropped: Counter;
  private readonly segmentRequests: Counter<'endpoint' | 'result'>;
  private readonly segmentMessagesTotal: Counter<'type' | 'result'>;
  private readonly admissionRefusals: Counter;
  private readonly admissionRefusedEvents: Counter;
  private readonly writerRebuilds: Counter;
  private readonly callbackErrors: Counter<'callback'>;
  private readonly buildEvents: Counter<'definition'>;
  private readonly buildSeconds: Counter<'definition'>;
  private readonly buildProgress: Gauge<'definition'>;

  constructor(sources: MetricSources) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.eventsAccepted = new Counter({ name: 'sessions_events_accepted_total', help: 'Events accepted and committed (new eventIds)', registers });
    this.eventsDuplicate = new Counter({
      name: 'sessions_events_duplicate_total',
      help: 'Events not stored because their eventId was already accepted',
      registers,
    });
    this.eventsRejected = new Counter({
      name: 'sessions_events_rejected_total',
      help: 'Events not stored, by code: a validation code, or the code their whole mutation failed with',
      labelNames: ['code'],
      registers,
    });
    this.batches = new Counter({
      name: 'sessions_ingest_batches_total',
      help: 'Ingest mutations answered, by result: ok or the error code',
      labelNames: ['result'],
      registers,
    });
    this.commitSeconds = new Histogram({
      name: 'sessions_commit_duration_seconds',
      help: 'Duration of group commits of the single writer (seconds)',
      buckets: COMMIT_BUCKETS,
      registers,
    });
    this.commitFailures = new Counter({
      name: 'sessions_commit_failures_total',
      help: 'Group commits that failed and were rolled back',
      registers,
    });
    this.corrections = new Counter({
      name: 'sessions_corrections_total',
      help: "Users' sessions recomputed from stored events (late events)",
      registers,
    });
    this.sessionsClosedTotal = new Counter({
      name: 'sessions_closed_total',
      help: 'Sessions closed, by reason',
      labelNames: ['reason'],
      registers,
    });
    this.wsSent = new Counter({
      name: 'sessions_ws_messages_sent_total',
      help: 'Subscription results (next messages) handed to an open WebSocket',
      registers,
    });
    this.wsDropped = new Counter({
      name: 'sessions_ws_messages_dropped_total',
      help: 'Subscription messages not delivered because their connection was cut off as a slow consumer (1013)',
      registers,
    });
    this.segmentRequests = new Counter({
      name: 'sessions_segment_requests_total',
      help: 'Requests to the Segment-compatible endpoints, by endpoint and result: ok or the error code',
      labelNames: ['endpoint', 'result'],
      registers,
    });
    this.segmentMessagesTotal = new Counter({
      name: 'sessions_segment_messages_total',
      help: 'Segment messages by type and result: ingested (then counted as events), acknowledged (identify, group, alias) or refused at the edge',
      labelNames: ['type', 'result'],
      registers,
    });
    this.admissionRefusals = new Counter({
      name: 'sessions_admission_refused_total',
      help: 'Ingest requests refused at once because MAX_QUEUED_EVENTS events were waiting (SERVICE_UNAVAILABLE, reason OVERLOADED)',
      registers,
    });
    this.admissionRefusedEvents = new Counter({
      name: 'sessions_admission_refused_events_total',
      help: 'Events of the ingest requests refused by admission control',
      registers,
    });
    this.writerRebuilds = new Counter({
      name: 'sessions_writer_rebuilds_total',
      help: 'Times the writer rebuilt its memory from the database (after a failed commit, or when the partitions held changed)',
      registers,
    });
    this.buildEvents = new Counter({
      name: 'sessions_definition_build_events_total',
      help: 'Stored events read by definition builds on this instance (rebuilding a new or changed definition), by definition',
      labelNames: ['definition'],
      registers,
    });
    this.buildSeconds = new Counter({
      name: 'sessions_definition_build_seconds_total',
      help: 'Time spent in definition build steps on this instance, by definition',
      labelNames: ['definition'],
      registers,
    });
    this.buildProgress = new Gauge({
      name: 'sessions_definition_build_progress',
      help: 'Share (0 to 1) of the stored events a definition build has read (all instances); 1 once the definition is READY',
      labelNames: ['definition'],
      registers,
    });
    this.callbackErrors = new Counter({
      name: 'sessions_callback_errors_total',
      help: 'Errors thrown by callbacks after a commit (announcements, observers), by callback; the commit stood',
      labelNames: ['callback'],
      registers,
    });
    new Gauge({
      name: 'sessions_writer_queue_depth',
      help: 'Events waiting for a commit',
      registers,
      collect() {
        this.set(sources.queueDepth());
      },
    });
    new Gauge({
      name: 'sessions_writer_healthy',
      help: '1 when the writer accepts work, 0 while it rebuilds its state after a failed commit',
      registers,
      collect() {
        this.set(sources.writerHealthy() ? 1 : 0);
      },
    });
    new Gauge({
      name: 'sessions_open',
      help: 'OPEN sessions',
      registers,
      collect() {
        this.set(sources.openSessions());
      },
    });
    new Gauge({
      name: 'sessions_subscriptions_active',
      help: 'Active GraphQL subscriptions',
      registers,
      collect() {
        this.set(sources.activeSubscriptions());
      },
    });
    // Known label values start at 0, so rates and alerts see them before the first event.
    for (const code of REJECT_CODES) this.eventsRejected.inc({ code }, 0);
    for (const reason of CLOSE_REASONS) this.sessionsClosedTotal.inc({ reason }, 0);
    this.batches.inc({ result: 'ok' }, 0);
  }

  /** Content type of {@link render}. */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** The Prometheus text exposition of every metric. */
  render(): Promise<string> {
    return this.registry.metrics();
  }

  ingested(report: IngestReport): void {
    this.batches.inc({ result: report.failure ?? 'ok' });
    this.eventsAccepted.inc(report.accepted);
    this.eventsDuplicate.inc(report.duplicates);
    for (const rejection of report.rejected) this.eventsRejected.inc({ code: rejection.code });
    const refusedWhole = report.events - report.rejected.length - report.accepted - report.duplicates;
    if (report.failure !== null && refusedWhole > 0) this.eventsRejected.inc({ code: report.failure }, refusedWhole);
  }

  committed(commit: { readonly seconds: number; readonly corrections: number }): void {
    this.commitSeconds.observe(commit.seconds);
    this.corrections.inc(commit.corrections);
  }

  failed(): void {
    this.commitFailures.inc();
  }

  admissionRefused(events: number): void {
    this.admissionRefusals.inc();
    this.admissionRefusedEvents.inc(events);
  }

  rebuilt(): void {
    this.writerRebuilds.inc();
  }

  built(outcome: BuildOutcome, seconds: number): void {
    if (outcome.definition === null) return;
    this.buildEvents.inc({ definition: outcome.definition }, outcome.events);
    this.buildSeconds.inc({ definition: outcome.definition }, seconds);
  }

  /** The progress of each definition (1 when READY or RETIRED), as the `definitions` query reports it. */
  definitionProgress(progress: ReadonlyArray<{ definition: string; progress: number }>): void {
    for (const { definition, progress: value } of progress) this.buildProgress.set({ definition }, value);
  }

  callbackFailed(callback: string): void {
    this.callbackErrors.inc({ callback });
  }

  /** Counts closures of committed changes. */
  sessionsClosed(reasons: Iterable<CloseReason>): void {
    for (const reason of reasons) this.sessionsClosedTotal.inc({ reason });
  }

  wsMessageSent(count = 1): void {
    this.wsSent.inc(count);
  }

  wsMessageDropped(count = 1): void {
    this.wsDropped.inc(count);
  }

  segmentRequest(endpoint: string, result: string): void {
    this.segmentRequests.inc({ endpoint, result });
  }

  segmentMessages(type: string, result: 'ingested' | 'acknowledged' | 'refused', count: number): void {
    this.segmentMessagesTotal.inc({ type, result }, count);
  }
}

/**
 * GET /metrics: the Prometheus text of `metrics`, or 401 without one of
 * `keys` (Authorization: Bearer <key>) when keys are given.
 */
export function metricsEndpoint(metrics: ServiceMetrics, keys: readonly string[]) {
  const allowed = createKeyCheck(keys);
  return async (req: Request, res: Response): Promise<void> => {
    if (!allowed(req.headers.authorization)) {
      res.status(401).setHeader('www-authenticate', 'Bearer realm="metrics"');
      res.json({ errors: [{ message: 'a valid metrics key is required (METRICS_API_KEY)', extensions: { code: ErrorCode.Unauthenticated } }] });
      return;
    }
    res.type(metrics.contentType).send(await metrics.render());
  };
}
