-- CreateTable
CREATE TABLE "session_hours" (
    "id" BIGSERIAL NOT NULL,
    "definition" TEXT NOT NULL,
    "hour" TIMESTAMPTZ(3) NOT NULL,
    "sessions" BIGINT NOT NULL,
    "events" BIGINT NOT NULL,
    "duration_seconds" DECIMAL NOT NULL,
    "bounced" BIGINT NOT NULL,
    "engaged" BIGINT NOT NULL,
    "converted" BIGINT NOT NULL,
    "total_value" DECIMAL NOT NULL,
    "compacted" BOOLEAN NOT NULL DEFAULT false,

    CONSTRAINT "session_hours_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "session_hour_channels" (
    "id" BIGSERIAL NOT NULL,
    "definition" TEXT NOT NULL,
    "hour" TIMESTAMPTZ(3) NOT NULL,
    "channel_id" TEXT NOT NULL,
    "sessions" BIGINT NOT NULL,
    "events" BIGINT NOT NULL,
    "compacted" BOOLEAN NOT NULL DEFAULT false,

    CONSTRAINT "session_hour_channels_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "session_hours_hour_idx" ON "session_hours"("definition", "hour");

-- CreateIndex
CREATE INDEX "session_hour_channels_hour_idx" ON "session_hour_channels"("definition", "hour");

-- The rows the compactor has not folded yet (few: those of the last seconds).
CREATE INDEX "session_hours_fresh_idx" ON "session_hours" ("id") WHERE NOT "compacted";
CREATE INDEX "session_hour_channels_fresh_idx" ON "session_hour_channels" ("id") WHERE NOT "compacted";

-- The deltas of one statement that wrote sessions: +1 for each CLOSED row
-- after it, -1 for each CLOSED row before it, summed per UTC hour of
-- startedAt (and per channel), in the writing transaction. Rows are only
-- ever inserted here, never updated, so the writers of several instances
-- never wait for each other on them; an hour whose sums did not change (an
-- OPEN session updated, a CLOSED one rewritten with the same values) gets no
-- row. Durations and values are added as numeric, each converted through
-- the shortest text that reads back as the same float8 (extra_float_digits
-- 1, pinned here: at 0 a float8 converts to 15 digits), so a session
-- removed later subtracts exactly what it added, and the sums are exact.
CREATE FUNCTION "session_rollups_add"() RETURNS trigger LANGUAGE plpgsql SET extra_float_digits = 1 AS $$
DECLARE
  changes text := CASE TG_OP
    WHEN 'INSERT' THEN 'SELECT 1 AS sign, * FROM added WHERE status = ''CLOSED'''
    WHEN 'DELETE' THEN 'SELECT -1 AS sign, * FROM gone WHERE status = ''CLOSED'''
    ELSE 'SELECT 1 AS sign, * FROM added WHERE status = ''CLOSED'' UNION ALL SELECT -1, * FROM gone WHERE status = ''CLOSED'''
  END;
BEGIN
  EXECUTE format($sql$
    WITH c AS (
      SELECT sign, definition, date_trunc('hour', started_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS hour,
        event_count, duration_seconds::text::numeric AS duration, bounced::int AS bounced, engaged::int AS engaged,
        converted::int AS converted, total_value::text::numeric AS value, top_channel, channels
      FROM (%s) AS changed
    ), hours AS (
      INSERT INTO session_hours (definition, hour, sessions, events, duration_seconds, bounced, engaged, converted, total_value)
      SELECT definition, hour, sum(sign), sum(sign * event_count), sum(sign * duration), sum(sign * bounced),
        sum(sign * engaged), sum(sign * converted), sum(sign * value)
      FROM c
      GROUP BY definition, hour
      HAVING (sum(sign), sum(sign * event_count), sum(sign * duration), sum(sign * bounced), sum(sign * engaged),
        sum(sign * converted), sum(sign * value)) <> (0, 0, 0, 0, 0, 0, 0)
    )
    INSERT INTO session_hour_channels (definition, hour, channel_id, sessions, events)
    SELECT c.definition, c.hour, ch."channelId", sum(c.sign * (ch."channelId" = c.top_channel)::int), sum(c.sign * ch.count)
    FROM c CROSS JOIN LATERAL jsonb_to_recordset(c.channels) AS ch("channelId" text, count int)
    WHERE ch."channelId" IS NOT NULL
    GROUP BY 1, 2, 3
    HAVING (sum(c.sign * (ch."channelId" = c.top_channel)::int), sum(c.sign * ch.count)) <> (0, 0)
  $sql$, changes);
  RETURN NULL;
END
$$;

CREATE TRIGGER "session_rollups_on_insert" AFTER INSERT ON "sessions"
  REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION "session_rollups_add"();
CREATE TRIGGER "session_rollups_on_update" AFTER UPDATE ON "sessions"
  REFERENCING OLD TABLE AS gone NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION "session_rollups_add"();
CREATE TRIGGER "session_rollups_on_delete" AFTER DELETE ON "sessions"
  REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION "session_rollups_add"();

-- The sessions closed before this migration, already folded.
SELECT set_config('extra_float_digits', '1', true);
INSERT INTO "session_hours" (definition, hour, sessions, events, duration_seconds, bounced, engaged, converted, total_value, compacted)
SELECT definition, date_trunc('hour', started_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', count(*), sum(event_count),
  sum(duration_seconds::text::numeric), sum(bounced::int), sum(engaged::int), sum(converted::int), sum(total_value::text::numeric), true
FROM "sessions" WHERE status = 'CLOSED'
GROUP BY 1, 2;
INSERT INTO "session_hour_channels" (definition, hour, channel_id, sessions, events, compacted)
SELECT s.definition, date_trunc('hour', s.started_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', ch."channelId",
  count(*) FILTER (WHERE ch."channelId" = s.top_channel), sum(ch.count), true
FROM "sessions" AS s CROSS JOIN LATERAL jsonb_to_recordset(s.channels) AS ch("channelId" text, count int)
WHERE s.status = 'CLOSED' AND ch."channelId" IS NOT NULL
GROUP BY 1, 2, 3;

-- analytics.daily_engagement as engagementStats answers a UTC day (DESIGN:
-- equal to it): the closed sessions' sums from the rollup's 24 hours of the
-- day, their distinct users from the facts (a user counts through its first
-- session of the day), the OPEN sessions whole; each sum over the rollup is
-- the exact numeric sum cast to float8, as engagementStats reads it.
CREATE OR REPLACE VIEW "analytics"."daily_engagement" AS
WITH parts AS (
  SELECT
    (h."hour" AT TIME ZONE 'UTC')::date AS "day",
    d."name" AS "definition",
    sum(h."sessions")::numeric AS "sessions",
    0::numeric AS "users",
    sum(h."events")::numeric AS "events",
    sum(h."duration_seconds")::float8 AS "duration_seconds",
    sum(h."bounced")::numeric AS "bounced",
    sum(h."engaged")::numeric AS "engaged",
    sum(h."converted")::numeric AS "converted",
    sum(h."total_value")::float8 AS "total_value"
  FROM "public"."session_hours" AS h
  JOIN "public"."session_definitions" AS d ON d."active_key" = h."definition"
  GROUP BY 1, 2
  UNION ALL
  SELECT
    (f."started_at" AT TIME ZONE 'UTC')::date,
    d."name",
    0,
    count(*) FILTER (WHERE f."prev_started_at" IS NULL
      OR f."prev_started_at" < ((f."started_at" AT TIME ZONE 'UTC')::date)::timestamp AT TIME ZONE 'UTC'),
    0, 0, 0, 0, 0, 0
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
GROUP BY 1, 2
HAVING sum(p."sessions") > 0;
