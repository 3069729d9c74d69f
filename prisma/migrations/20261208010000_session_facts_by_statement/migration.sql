-- session_facts kept by statement triggers instead of row triggers: one
-- INSERT ... SELECT per writing statement over its transition table, where
-- the row triggers ran a plpgsql INSERT per closed session. Closing 2,000
-- sessions in one statement took 140-330 ms with the row trigger and 50-60
-- ms without it (the dev machine, steady state), so a file backfill, where
-- most commits close as many sessions as they open, spent most of its
-- database time there. The facts stay the same: a row per CLOSED session
-- with its values, written in the writer's transaction. The UPDATE trigger
-- sees every updated row (the frequent rewrites of OPEN sessions too), as
-- the rollups' trigger already did: Postgres captures the statement's
-- transition tables once for both, and the OPEN rows are filtered out of a
-- scan of them.
DROP TRIGGER "session_facts_on_insert" ON "sessions";
DROP TRIGGER "session_facts_on_update" ON "sessions";
DROP FUNCTION "session_facts_mirror"();

-- The facts of the CLOSED rows of a statement's new rows (`added`), inserted
-- or, for a session that was already closed, replaced.
CREATE FUNCTION "session_facts_add"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' THEN
    -- Closed sessions that a late event reopened: no longer facts.
    DELETE FROM session_facts AS f
    WHERE f.id IN (SELECT g.id FROM gone AS g WHERE g.status = 'CLOSED'
                   EXCEPT SELECT a.id FROM added AS a WHERE a.status = 'CLOSED');
  END IF;
  INSERT INTO session_facts AS f (id, definition, user_id, started_at, prev_started_at, duration_seconds, event_count,
    total_value, converted, engaged, bounced, top_channel, channel_ids, channel_counts)
  SELECT a.id, a.definition, a.user_id, a.started_at, a.prev_started_at, a.duration_seconds, a.event_count,
    a.total_value, a.converted, a.engaged, a.bounced, a.top_channel,
    ARRAY(SELECT c.value->>'channelId' FROM jsonb_array_elements(a.channels) WITH ORDINALITY AS c(value, i) ORDER BY c.i),
    ARRAY(SELECT (c.value->>'count')::int FROM jsonb_array_elements(a.channels) WITH ORDINALITY AS c(value, i) ORDER BY c.i)
  FROM added AS a
  WHERE a.status = 'CLOSED'
  ON CONFLICT (id) DO UPDATE SET definition = EXCLUDED.definition, user_id = EXCLUDED.user_id, started_at = EXCLUDED.started_at,
    prev_started_at = EXCLUDED.prev_started_at, duration_seconds = EXCLUDED.duration_seconds,
    event_count = EXCLUDED.event_count, total_value = EXCLUDED.total_value, converted = EXCLUDED.converted,
    engaged = EXCLUDED.engaged, bounced = EXCLUDED.bounced, top_channel = EXCLUDED.top_channel,
    channel_ids = EXCLUDED.channel_ids, channel_counts = EXCLUDED.channel_counts;
  RETURN NULL;
END
$$;

CREATE TRIGGER "session_facts_on_insert" AFTER INSERT ON "sessions"
  REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION "session_facts_add"();
CREATE TRIGGER "session_facts_on_update" AFTER UPDATE ON "sessions"
  REFERENCING OLD TABLE AS gone NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION "session_facts_add"();
