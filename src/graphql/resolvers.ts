import type { IResolvers } from '@graphql-tools/utils';
import { requireRole } from './auth.ts';
import type { RequestContext } from './context.ts';
import { ErrorCode, ServiceError } from './errors.ts';
import { DateTimeScalar, JsonScalar, dateTimeArg, type DateTimeInput } from './scalars.ts';
import type { EventInput } from '../ingest/validate.ts';
import { submitEvents, type IngestObserver } from '../ingest/submit.ts';
import { liveMerges, liveSessions } from './subscriptions.ts';
import type { Dimension, Interval, UserRanking } from '../store/stats-reader.ts';
import { definitionArg } from './definition-arg.ts';

type Args = Record<string, unknown>;

export type { IngestObserver, IngestReport } from '../ingest/submit.ts';

const ignore: IngestObserver = { ingested: () => undefined };

function range(args: Args): { from: number | null; to: number | null } {
  const from = dateTimeArg(args['from'] as DateTimeInput | null | undefined, 'from');
  const to = dateTimeArg(args['to'] as DateTimeInput | null | undefined, 'to');
  if (from !== null && to !== null && from > to) {
    throw new ServiceError(ErrorCode.InvalidRange, '`from` must not be after `to`');
  }
  return { from, to };
}

function limit(value: unknown, name: string, max: number): number {
  const n = typeof value === 'number' ? value : 10;
  if (!Number.isInteger(n) || n < 1) throw new ServiceError(ErrorCode.BadUserInput, `${name} must be at least 1`);
  return Math.min(n, max);
}

const seconds = (ms: number): number => ms / 1_000;

/** Default page size of `sessions` when neither `first` nor `last` is given. */
const DEFAULT_PAGE = 50;

/** Direction, size and cursor of a `sessions` page from Relay's first/after/last/before. */
function pageArgs(args: Args, maxPageSize: number): { direction: 'forward' | 'backward'; size: number; cursor: string | null } {
  const first = args['first'] as number | null | undefined;
  const last = args['last'] as number | null | undefined;
  const after = (args['after'] as string | null | undefined) ?? null;
  const before = (args['before'] as string | null | undefined) ?? null;
  const backward = last !== null && last !== undefined;
  if (backward && ((first !== null && first !== undefined) || after !== null)) {
    throw new ServiceError(ErrorCode.BadUserInput, 'page forward (first/after) or backward (last/before), not both');
  }
  if (!backward && before !== null) throw new ServiceError(ErrorCode.BadUserInput, '`before` goes with `last`');
  const size = backward ? last : (first ?? DEFAULT_PAGE);
  if (!Number.isInteger(size) || size < 0) {
    throw new ServiceError(ErrorCode.BadUserInput, `${backward ? 'last' : 'first'} must be 0 or more`);
  }
  return { direction: backward ? 'backward' : 'forward', size: Math.min(size, maxPageSize), cursor: backward ? before : after };
}

function timeZone(value: unknown): string {
  const zone = typeof value === 'string' && value !== '' ? value : 'UTC';
  try {
    // Intl throws RangeError on anything that is not an IANA name. Its canonical
    // name goes to Postgres: Intl still accepts links that newer tz data (and
    // so Postgres) dropped, such as US/Pacific-New.
    const canonical = new Intl.DateTimeFormat('en-US', { timeZone: zone }).resolvedOptions().timeZone;
    return canonical === '' ? 'UTC' : canonical;
  } catch {
    throw new ServiceError(ErrorCode.InvalidTimeZone, `unknown time zone "${zone.slice(0, 64)}" (use an IANA name such as Europe/Paris)`);
  }
}

async function ingest(inputs: readonly EventInput[], ctx: RequestContext, observer: IngestObserver) {
  requireRole(ctx.caller, 'ingest');
  const { config, ingest: writer, now } = ctx.services;
  return submitEvents(inputs, { writer, nowMs: now(), maxFutureSkewMs: config.maxFutureSkewMs, maxBatchSize: config.maxBatchSize }, observer);
}

/** Most engagementSeries buckets one request may ask for, in all its fields. */
const MAX_SERIES_BUCKETS = 10_000;
/** Buckets asked so far by each request (its context object). */
const seriesBucketsAsked = new WeakMap<object, number>();

/**
 * Resolvers of schema.graphql. Arguments are parsed here, once, into typed
 * values. `observer` hears how each ingest mutation ended (metrics).
 */
export function createResolvers(observer: IngestObserver = ignore): IResolvers<unknown, RequestContext> {
  return {
    DateTime: DateTimeScalar,
    JSON: JsonScalar,
    Query: {
      session: (_root, args: Args, ctx) => {
        requireRole(ctx.caller, 'read');
        return ctx.services.sessions.byId(String(args['id']));
      },
      sessions: async (_root, args: Args, ctx) => {
        requireRole(ctx.caller, 'read');
        const filter = {
          definition: definitionArg(args, ctx),
          ...range(args),
          userId: (args['userId'] as string | null | undefined) ?? null,
          status: (args['status'] as 'OPEN' | 'CLOSED' | null | undefined) ?? null,
        };
        const page = await ctx.services.sessions.page({ ...filter, ...pageArgs(args, ctx.services.config.maxPageSize) });
        return {
          edges: page.edges,
          nodes: page.edges.map((e) => e.node),
          pageInfo: page.pageInfo,
          totalCount: () => ctx.services.sessions.count(filter),
        };
      },
      engagementStats: (_root, args: Args, ctx) => {
        requireRole(ctx.caller, 'read');
        return ctx.services.stats.engagementStats({ definition: definitionArg(args, ctx), ...range(args) }, (args['userId'] as string | null | undefined) ?? null);
      },
      engagementSeries: (_root, args: Args, ctx) => {
        requireRole(ctx.caller, 'read');
        const definition = definitionArg(args, ctx);
        const { from, to } = range(args);
        if (from === null || to === null) throw new ServiceError(ErrorCode.BadUserInput, 'from and to are required');
        const interval = args['interval'] as Interval;
        const stepMs = { HOUR: 3_600_000, DAY: 86_400_000, WEEK: 604_800_000 }[interval];
        const buckets = (to - from) / stepMs;
        if (buckets > MAX_SERIES_BUCKETS) {
          throw new ServiceError(ErrorCode.InvalidRange, `the range holds more than ${MAX_SERIES_BUCKETS} buckets; use a larger interval`);
        }
        // The bound is per request: aliases of one field must not multiply it (and the answer's memory).
        const asked = (seriesBucketsAsked.get(ctx) ?? 0) + buckets;
        if (asked > MAX_SERIES_BUCKETS) {
          throw new ServiceError(ErrorCode.InvalidRange, `the request asks for more than ${MAX_SERIES_BUCKETS} buckets in all its engagementSeries; split it`);
        }
        seriesBucketsAsked.set(ctx, asked);
        return ctx.services.stats.engagementSeries(definition, from, to, interval, timeZone(args['timeZone']));
      },
      topChannels: (_root, args: Args, ctx) => {
        requireRole(ctx.caller, 'read');
        return ctx.services.stats.topChannels({ definition: definitionArg(args, ctx), ...range(args) }, limit(args['limit'], 'limit', ctx.services.config.maxPageSize));
      },
      topUsers: (_root, args: Args, ctx) => {
        requireRole(ctx.caller, 'read');
        return ctx.services.stats.topUsers(
          { definition: definitionArg(args, ctx), ...range(args) },
          (args['by'] as UserRanking | undefined) ?? 'SESSIONS',
          limit(args['limit'], 'limit', ctx.services.config.maxPageSize),
        );
      },
      definitions: async (_root, _args: Args, ctx) => {
        requireRole(ctx.caller, 'read');
        return (await ctx.services.definitions.list()).map((d) => ({
          name: d.name,
          status: d.status,
          gapSeconds: seconds(d.rules.gapMs),
          maxDurationSeconds: seconds(d.rules.maxDurationMs),
          conversionEvents: d.rules.conversionEvents,
          engagedMinDurationSeconds: seconds(d.rules.engagedMinDurationMs),
          engagedMinEvents: d.rules.engagedMinEvents,
          filter: d.rules.filter,
          progress: d.progress,
          eventsProcessed: d.eventsProcessed,
          eventsTotal: d.eventsTotal,
          buildStartedAt: d.buildStartedAt,
          readyAt: d.readyAt,
        }));
      },
      cluster: async (_root, _args: Args, ctx) => {
        requireRole(ctx.caller, 'admin');
        const state = await ctx.services.cluster.state();
        return {
          ...state,
          instances: state.instances.map((i) => ({ ...i, startedAt: i.startedAt.getTime(), lastSeenAt: i.lastSeenAt.getTime() })),
        };
      },
      breakdown: (_root, args: Args, ctx) => {
        requireRole(ctx.caller, 'read');
        const definition = definitionArg(args, ctx);
        return ctx.services.stats.breakdown({ definition, ...range(args) }, args['dimension'] as Dimension, limit(args['limit'], 'limit', ctx.services.config.maxPageSize));
      },
    },
    Mutation: {
      ingestEvents: (_root, args: Args, ctx) => ingest(args['events'] as EventInput[], ctx, observer),
      ingestEvent: (_root, args: Args, ctx) => ingest([args['event'] as EventInput], ctx, observer),
      flushSessions: async (_root, args: Args, ctx) => {
        requireRole(ctx.caller, 'admin');
        const before = dateTimeArg(args['before'] as DateTimeInput | null | undefined, 'before');
        return { closed: await ctx.services.ingest.flush(before) };
      },
    },
    Subscription: {
      sessionStarted: liveSessions('started'),
      sessionUpdated: liveSessions('updated'),
      sessionClosed: liveSessions('closed'),
      sessionMerged: liveMerges(),
    },
  };
}

/** The resolvers without an observer. */
export const resolvers = createResolvers();
