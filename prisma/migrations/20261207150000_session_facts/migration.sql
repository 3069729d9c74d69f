-- CreateTable
CREATE TABLE "session_facts" (
    "id" UUID NOT NULL,
    "definition" TEXT NOT NULL,
    "user_id" TEXT NOT NULL,
    "started_at" TIMESTAMPTZ(3) NOT NULL,
    "duration_seconds" DOUBLE PRECISION NOT NULL,
    "event_count" INTEGER NOT NULL,
    "total_value" DOUBLE PRECISION NOT NULL,
    "bounced" BOOLEAN NOT NULL,
    "engaged" BOOLEAN NOT NULL,
    "converted" BOOLEAN NOT NULL,
    "top_channel" TEXT,
    "channels" JSONB NOT NULL,

    CONSTRAINT "session_facts_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "session_facts_started_idx" ON "session_facts"("definition", "started_at");

-- Written by hand below this line (see docs/migrations.md).

-- session_facts holds, for every CLOSED session, the columns the analytics
-- aggregate (engagementStats, engagementSeries, topChannels, topUsers): about
-- a sixth of a sessions row, so a month of history is read from a few MB
-- instead of a few hundred (src/store/stats-reader.ts). It is kept by the
-- triggers below, in the transaction that writes the session, whoever writes
-- it (the writer, a correction, a definition build, a hand-written
-- statement): the rewrites of OPEN sessions (most writes) do not fire them.
CREATE FUNCTION "session_facts_write"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' OR NEW."status" <> 'CLOSED' THEN
    DELETE FROM "session_facts" WHERE "id" = OLD."id";
    RETURN NULL;
  END IF;
  INSERT INTO "session_facts" ("id", "definition", "user_id", "started_at", "duration_seconds", "event_count",
    "total_value", "bounced", "engaged", "converted", "top_channel", "channels")
  VALUES (NEW."id", NEW."definition", NEW."user_id", NEW."started_at", NEW."duration_seconds", NEW."event_count",
    NEW."total_value", NEW."bounced", NEW."engaged", NEW."converted", NEW."top_channel", NEW."channels")
  ON CONFLICT ("id") DO UPDATE SET "definition" = EXCLUDED."definition", "user_id" = EXCLUDED."user_id",
    "started_at" = EXCLUDED."started_at", "duration_seconds" = EXCLUDED."duration_seconds",
    "event_count" = EXCLUDED."event_count", "total_value" = EXCLUDED."total_value", "bounced" = EXCLUDED."bounced",
    "engaged" = EXCLUDED."engaged", "converted" = EXCLUDED."converted", "top_channel" = EXCLUDED."top_channel",
    "channels" = EXCLUDED."channels";
  RETURN NULL;
END
$$;

CREATE FUNCTION "session_facts_truncate"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  TRUNCATE "session_facts";
  RETURN NULL;
END
$$;

CREATE TRIGGER "sessions_facts_insert" AFTER INSERT ON "sessions"
  FOR EACH ROW WHEN (NEW."status" = 'CLOSED') EXECUTE FUNCTION "session_facts_write"();
-- An update fires it only when a CLOSED session's copied columns change: not
-- for the rewrites of OPEN sessions, nor for other columns (the partition
-- backfill of the first clustered start, close cursors).
CREATE TRIGGER "sessions_facts_update" AFTER UPDATE ON "sessions"
  FOR EACH ROW WHEN ((OLD."status" = 'CLOSED' OR NEW."status" = 'CLOSED') AND
    (OLD."status", OLD."definition", OLD."user_id", OLD."started_at", OLD."duration_seconds", OLD."event_count",
     OLD."total_value", OLD."bounced", OLD."engaged", OLD."converted", OLD."top_channel", OLD."channels")
    IS DISTINCT FROM
    (NEW."status", NEW."definition", NEW."user_id", NEW."started_at", NEW."duration_seconds", NEW."event_count",
     NEW."total_value", NEW."bounced", NEW."engaged", NEW."converted", NEW."top_channel", NEW."channels"))
  EXECUTE FUNCTION "session_facts_write"();
CREATE TRIGGER "sessions_facts_delete" AFTER DELETE ON "sessions"
  FOR EACH ROW WHEN (OLD."status" = 'CLOSED') EXECUTE FUNCTION "session_facts_write"();
CREATE TRIGGER "sessions_facts_truncate" AFTER TRUNCATE ON "sessions"
  FOR EACH STATEMENT EXECUTE FUNCTION "session_facts_truncate"();

-- The sessions closed before this migration.
INSERT INTO "session_facts" ("id", "definition", "user_id", "started_at", "duration_seconds", "event_count",
  "total_value", "bounced", "engaged", "converted", "top_channel", "channels")
SELECT "id", "definition", "user_id", "started_at", "duration_seconds", "event_count",
  "total_value", "bounced", "engaged", "converted", "top_channel", "channels"
FROM "sessions" WHERE "status" = 'CLOSED';
