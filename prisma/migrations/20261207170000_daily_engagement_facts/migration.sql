-- analytics.daily_engagement from session_facts (the closed sessions) and the
-- few OPEN sessions, as engagementStats reads them: the narrow facts instead
-- of the wide sessions rows, and distinct users as a filtered count instead
-- of count(DISTINCT user_id): a user counts on a day through the first of
-- its sessions that start that day, the one whose previous session (same
-- definition build) started before the day, or that has none. Each part is
-- grouped by day and definition and the parts are added up; a filter on
-- `day` and `definition` reaches both parts, and the index below answers it
-- on the facts.

CREATE INDEX "session_facts_day_idx" ON "session_facts" ("definition", (("started_at" AT TIME ZONE 'UTC')::date));

CREATE OR REPLACE VIEW "analytics"."daily_engagement" AS
WITH parts AS (
  SELECT
    (f."started_at" AT TIME ZONE 'UTC')::date AS "day",
    d."name" AS "definition",
    count(*) AS "sessions",
    count(*) FILTER (WHERE f."prev_started_at" IS NULL
      OR f."prev_started_at" < ((f."started_at" AT TIME ZONE 'UTC')::date)::timestamp AT TIME ZONE 'UTC') AS "users",
    sum(f."event_count") AS "events",
    sum(f."duration_seconds") AS "duration_seconds",
    count(*) FILTER (WHERE f."bounced") AS "bounced",
    count(*) FILTER (WHERE f."engaged") AS "engaged",
    count(*) FILTER (WHERE f."converted") AS "converted",
    sum(f."total_value") AS "total_value"
  FROM "public"."session_facts" AS f
  JOIN "public"."session_definitions" AS d ON d."active_key" = f."definition"
  GROUP BY 1, 2
  UNION ALL
  SELECT
    (s."started_at" AT TIME ZONE 'UTC')::date,
    d."name",
    count(*),
    count(*) FILTER (WHERE s."prev_started_at" IS NULL
      OR s."prev_started_at" < ((s."started_at" AT TIME ZONE 'UTC')::date)::timestamp AT TIME ZONE 'UTC'),
    sum(s."event_count"),
    sum(s."duration_seconds"),
    count(*) FILTER (WHERE s."bounced"),
    count(*) FILTER (WHERE s."engaged"),
    count(*) FILTER (WHERE s."converted"),
    sum(s."total_value")
  FROM "public"."sessions" AS s
  JOIN "public"."session_definitions" AS d ON d."active_key" = s."definition"
  WHERE s."status" = 'OPEN'
  GROUP BY 1, 2
)
SELECT
  p."day",
  p."definition",
  sum(p."sessions")::int AS "sessions",
  sum(p."users")::int AS "users",
  sum(p."events")::bigint AS "events",
  (sum(p."duration_seconds") / sum(p."sessions"))::float8 AS "avg_duration_seconds",
  (sum(p."bounced")::float8 / sum(p."sessions"))::float8 AS "bounce_rate",
  (sum(p."engaged")::float8 / sum(p."sessions"))::float8 AS "engagement_rate",
  (sum(p."converted")::float8 / sum(p."sessions"))::float8 AS "conversion_rate",
  sum(p."total_value")::float8 AS "total_value"
FROM parts AS p
GROUP BY 1, 2;
