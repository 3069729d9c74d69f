-- DropIndex
DROP INDEX "sessions_started_idx";

-- DropIndex
DROP INDEX "sessions_user_started_idx";

-- AlterTable
ALTER TABLE "sessions" ADD COLUMN     "definition" TEXT NOT NULL DEFAULT 'default';

-- CreateTable
CREATE TABLE "session_definitions" (
    "name" TEXT NOT NULL,
    "status" TEXT NOT NULL,
    "rules" JSONB NOT NULL,
    "fingerprint" TEXT NOT NULL,
    "active_key" TEXT,
    "active_fingerprint" TEXT,
    "building_key" TEXT,
    "generation" INTEGER NOT NULL DEFAULT 0,
    "build_total" BIGINT,
    "build_started_at" TIMESTAMPTZ(3),
    "ready_at" TIMESTAMPTZ(3),
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "session_definitions_pkey" PRIMARY KEY ("name")
);

-- CreateTable
CREATE TABLE "definition_build_partitions" (
    "build_key" TEXT NOT NULL,
    "partition" INTEGER NOT NULL,
    "last_user_id" TEXT,
    "done" BOOLEAN NOT NULL DEFAULT false,
    "events" BIGINT NOT NULL DEFAULT 0,

    CONSTRAINT "definition_build_partitions_pkey" PRIMARY KEY ("build_key","partition")
);

-- CreateIndex
CREATE INDEX "sessions_user_started_idx" ON "sessions"("user_id", "definition", "started_at" DESC, "id" DESC);

-- CreateIndex
CREATE INDEX "sessions_started_idx" ON "sessions"("definition", "started_at" DESC, "id" DESC);

-- Written by hand below this line (see docs/migrations.md).

-- Sessions stored before definitions existed were cut by the environment's
-- rules: they are the active build of `default`. A NULL active_fingerprint
-- tells the first start to adopt its own rules for them without a rebuild.
INSERT INTO "session_definitions" ("name", "status", "rules", "fingerprint", "active_key", "generation")
VALUES ('default', 'READY', '{}'::jsonb, '', 'default', 1)
ON CONFLICT ("name") DO NOTHING;

-- The views show the active build of each definition under its name (a build
-- in progress, or a replaced one, is not shown), as the GraphQL API does:
-- sessions.definition is the build's key, the name then `#n` for the n-th
-- rebuild. CREATE OR REPLACE keeps the columns, their order and the grants;
-- analytics.sessions reads one table (a filter, no join), so a write to it is
-- refused for want of privileges, as before.
CREATE OR REPLACE VIEW "analytics"."sessions" AS
SELECT
  s."id",
  split_part(s."definition", '#', 1) AS "definition",
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
  s."closed_at",
  s."entry_url",
  s."exit_url",
  s."referrer",
  s."referrer_domain",
  s."utm_source",
  s."utm_medium",
  s."utm_campaign",
  s."utm_term",
  s."utm_content",
  s."channel_group"
FROM "public"."sessions" AS s
WHERE s."definition" IN (SELECT d."active_key" FROM "public"."session_definitions" AS d);

CREATE OR REPLACE VIEW "analytics"."session_event_counts" AS
SELECT s."id" AS "session_id", e."key" AS "name", e."value"::int AS "count"
FROM "public"."sessions" AS s
JOIN "public"."session_definitions" AS d ON d."active_key" = s."definition"
CROSS JOIN LATERAL jsonb_each_text(s."event_counts") AS e("key", "value");

CREATE OR REPLACE VIEW "analytics"."session_channels" AS
SELECT s."id" AS "session_id", c."channelId" AS "channel_id", c."count"
FROM "public"."sessions" AS s
JOIN "public"."session_definitions" AS d ON d."active_key" = s."definition"
CROSS JOIN LATERAL jsonb_to_recordset(s."channels") AS c("channelId" text, "count" int);

-- One row per UTC day and definition; equals engagementStats(definition: ...)
-- for that day.
CREATE OR REPLACE VIEW "analytics"."daily_engagement" AS
SELECT
  (s."started_at" AT TIME ZONE 'UTC')::date AS "day",
  d."name" AS "definition",
  count(*)::int AS "sessions",
  count(DISTINCT s."user_id")::int AS "users",
  sum(s."event_count")::bigint AS "events",
  avg(s."duration_seconds")::float8 AS "avg_duration_seconds",
  avg(s."bounced"::int)::float8 AS "bounce_rate",
  avg(s."engaged"::int)::float8 AS "engagement_rate",
  avg(s."converted"::int)::float8 AS "conversion_rate",
  sum(s."total_value")::float8 AS "total_value"
FROM "public"."sessions" AS s
JOIN "public"."session_definitions" AS d ON d."active_key" = s."definition"
GROUP BY 1, 2;
