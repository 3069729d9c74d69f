-- CreateTable
CREATE TABLE "session_facts" (
    "id" UUID NOT NULL,
    "definition" TEXT NOT NULL,
    "user_id" TEXT NOT NULL,
    "started_at" TIMESTAMPTZ(3) NOT NULL,
    "prev_started_at" TIMESTAMPTZ(3),
    "duration_seconds" DOUBLE PRECISION NOT NULL,
    "event_count" INTEGER NOT NULL,
    "total_value" DOUBLE PRECISION NOT NULL,
    "converted" BOOLEAN NOT NULL,
    "engaged" BOOLEAN NOT NULL,
    "bounced" BOOLEAN NOT NULL,
    "top_channel" TEXT,
    "channel_ids" TEXT[],
    "channel_counts" INTEGER[],

    CONSTRAINT "session_facts_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "session_facts_started_idx" ON "session_facts"("definition", "started_at");

-- The facts of one sessions row: a row of session_facts exactly while the
-- session is CLOSED (AFTER triggers, in the writing transaction). The WHEN
-- conditions keep the frequent updates of OPEN sessions from calling it.
CREATE FUNCTION "session_facts_mirror"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.status <> 'CLOSED' THEN
    DELETE FROM session_facts WHERE id = OLD.id;
    RETURN NULL;
  END IF;
  INSERT INTO session_facts AS f (id, definition, user_id, started_at, prev_started_at, duration_seconds, event_count,
    total_value, converted, engaged, bounced, top_channel, channel_ids, channel_counts)
  SELECT NEW.id, NEW.definition, NEW.user_id, NEW.started_at, NEW.prev_started_at, NEW.duration_seconds, NEW.event_count,
    NEW.total_value, NEW.converted, NEW.engaged, NEW.bounced, NEW.top_channel,
    ARRAY(SELECT c.value->>'channelId' FROM jsonb_array_elements(NEW.channels) WITH ORDINALITY AS c(value, i) ORDER BY c.i),
    ARRAY(SELECT (c.value->>'count')::int FROM jsonb_array_elements(NEW.channels) WITH ORDINALITY AS c(value, i) ORDER BY c.i)
  ON CONFLICT (id) DO UPDATE SET definition = EXCLUDED.definition, user_id = EXCLUDED.user_id, started_at = EXCLUDED.started_at,
    prev_started_at = EXCLUDED.prev_started_at, duration_seconds = EXCLUDED.duration_seconds,
    event_count = EXCLUDED.event_count, total_value = EXCLUDED.total_value, converted = EXCLUDED.converted,
    engaged = EXCLUDED.engaged, bounced = EXCLUDED.bounced, top_channel = EXCLUDED.top_channel,
    channel_ids = EXCLUDED.channel_ids, channel_counts = EXCLUDED.channel_counts;
  RETURN NULL;
END
$$;

CREATE TRIGGER "session_facts_on_insert" AFTER INSERT ON "sessions"
  FOR EACH ROW WHEN (NEW.status = 'CLOSED') EXECUTE FUNCTION "session_facts_mirror"();
CREATE TRIGGER "session_facts_on_update" AFTER UPDATE ON "sessions"
  FOR EACH ROW WHEN (NEW.status = 'CLOSED' OR OLD.status = 'CLOSED') EXECUTE FUNCTION "session_facts_mirror"();
-- Deletes, once per statement: merges delete a few sessions, but dropping a
-- definition build deletes all of its sessions at once.
CREATE FUNCTION "session_facts_forget"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM session_facts AS f USING gone WHERE f.id = gone.id;
  RETURN NULL;
END
$$;

CREATE TRIGGER "session_facts_on_delete" AFTER DELETE ON "sessions"
  REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION "session_facts_forget"();

-- The sessions closed before this migration, in start order.
INSERT INTO "session_facts" (id, definition, user_id, started_at, prev_started_at, duration_seconds, event_count,
  total_value, converted, engaged, bounced, top_channel, channel_ids, channel_counts)
SELECT s.id, s.definition, s.user_id, s.started_at, s.prev_started_at, s.duration_seconds, s.event_count,
  s.total_value, s.converted, s.engaged, s.bounced, s.top_channel,
  ARRAY(SELECT c.value->>'channelId' FROM jsonb_array_elements(s.channels) WITH ORDINALITY AS c(value, i) ORDER BY c.i),
  ARRAY(SELECT (c.value->>'count')::int FROM jsonb_array_elements(s.channels) WITH ORDINALITY AS c(value, i) ORDER BY c.i)
FROM "sessions" AS s
WHERE s.status = 'CLOSED'
ORDER BY s.definition, s.started_at;
