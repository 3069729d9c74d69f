-- The SQL surface for BI tools (Metabase, Superset, Grafana, Tableau): a
-- schema `analytics` of stable, documented views over the service's tables,
-- and a role `sessions_reader` that may read those views and nothing else.
-- Not in schema.prisma: Prisma's schema language has no views of this kind,
-- no roles and no grants, and its diff leaves all three alone.
--
-- The views run with their owner's rights (the default; not
-- security_invoker), so `sessions_reader` needs no privilege on the tables
-- underneath: it can read analytics.* but never public.events or
-- public.sessions. Columns are plain scalars (enums as text) so that every
-- BI tool reads them without knowing the service's types.

CREATE SCHEMA IF NOT EXISTS "analytics";

-- One row per session. `definition` is 'default' until sessions carry the
-- definition that cut them.
CREATE VIEW "analytics"."sessions" AS
SELECT
  s."id",
  'default'::text AS "definition",
  s."user_id",
  s."status"::text AS "status",
  s."started_at",
  s."ended_at",
  s."duration_seconds",
  s."event_count",
  s."total_value",
  s."converted",
  s."engaged",
  s."bounced",
  s."top_channel",
  s."first_event_name",
  s."last_event_name",
  s."close_reason"::text AS "close_reason",
  s."closed_at"
FROM "public"."sessions" AS s;

-- Events per name within a session (sessions.event_counts is {"name": count}).
CREATE VIEW "analytics"."session_event_counts" AS
SELECT s."id" AS "session_id", e."key" AS "name", e."value"::int AS "count"
FROM "public"."sessions" AS s
CROSS JOIN LATERAL jsonb_each_text(s."event_counts") AS e("key", "value");

-- Events per channel within a session (sessions.channels is
-- [{"channelId", "count", "firstAt", "firstEventId"}] in first-seen order).
CREATE VIEW "analytics"."session_channels" AS
SELECT s."id" AS "session_id", c."channelId" AS "channel_id", c."count"
FROM "public"."sessions" AS s
CROSS JOIN LATERAL jsonb_to_recordset(s."channels") AS c("channelId" text, "count" int);

-- Engagement per UTC day of startedAt: each row equals engagementStats(from:
-- that day 00:00Z, to: the next day 00:00Z), with the same expressions as
-- src/store/stats-reader.ts (rates are averages over sessions). Days without
-- sessions have no row (engagementStats answers zeros for them).
CREATE VIEW "analytics"."daily_engagement" AS
SELECT
  (s."started_at" AT TIME ZONE 'UTC')::date AS "day",
  'default'::text AS "definition",
  count(*)::int AS "sessions",
  count(DISTINCT s."user_id")::int AS "users",
  sum(s."event_count")::bigint AS "events",
  avg(s."duration_seconds")::float8 AS "avg_duration_seconds",
  avg(s."bounced"::int)::float8 AS "bounce_rate",
  avg(s."engaged"::int)::float8 AS "engagement_rate",
  avg(s."converted"::int)::float8 AS "conversion_rate",
  sum(s."total_value")::float8 AS "total_value"
FROM "public"."sessions" AS s
GROUP BY 1;

-- Roles belong to the whole server, not to one database: several databases
-- on one server (tests, staging beside production) each run this migration,
-- maybe at the same moment, so the role is created only when missing, and a
-- concurrent creation that wins the race is not an error.
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'sessions_reader') THEN
    CREATE ROLE "sessions_reader" NOLOGIN;
  END IF;
EXCEPTION
  WHEN duplicate_object OR unique_violation THEN NULL;
END
$$;

GRANT USAGE ON SCHEMA "analytics" TO "sessions_reader";
GRANT SELECT ON ALL TABLES IN SCHEMA "analytics" TO "sessions_reader";
-- Views that later migrations add to the schema (run by the same role) are readable too.
ALTER DEFAULT PRIVILEGES IN SCHEMA "analytics" GRANT SELECT ON TABLES TO "sessions_reader";
