-- CreateTable
CREATE TABLE "session_hours" (
    "id" BIGSERIAL NOT NULL,
    "definition" TEXT NOT NULL,
    "hour" TIMESTAMPTZ(3) NOT NULL,
    "sessions" BIGINT NOT NULL,
    "events" BIGINT NOT NULL,
    "duration_seconds" DECIMAL(65,30) NOT NULL,
    "bounced" BIGINT NOT NULL,
    "engaged" BIGINT NOT NULL,
    "converted" BIGINT NOT NULL,
    "total_value" DECIMAL(65,30) NOT NULL,
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
-- row. Durations and values are added as numeric: a session removed later
-- subtracts exactly what it added.
CREATE FUNCTION "session_rollups_add"() RETURNS trigger LANGUAGE plpgsql AS $$
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
        event_count, duration_seconds::numeric AS duration, bounced::int AS bounced, engaged::int AS engaged,
        converted::int AS converted, total_value::numeric AS value, top_channel, channels
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
INSERT INTO "session_hours" (definition, hour, sessions, events, duration_seconds, bounced, engaged, converted, total_value, compacted)
SELECT definition, date_trunc('hour', started_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', count(*), sum(event_count),
  sum(duration_seconds::numeric), sum(bounced::int), sum(engaged::int), sum(converted::int), sum(total_value::numeric), true
FROM "sessions" WHERE status = 'CLOSED'
GROUP BY 1, 2;
INSERT INTO "session_hour_channels" (definition, hour, channel_id, sessions, events, compacted)
SELECT s.definition, date_trunc('hour', s.started_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', ch."channelId",
  count(*) FILTER (WHERE ch."channelId" = s.top_channel), sum(ch.count), true
FROM "sessions" AS s CROSS JOIN LATERAL jsonb_to_recordset(s.channels) AS ch("channelId" text, count int)
WHERE s.status = 'CLOSED' AND ch."channelId" IS NOT NULL
GROUP BY 1, 2, 3;
