-- AlterTable
ALTER TABLE "sessions" ADD COLUMN     "prev_started_at" TIMESTAMPTZ(3);

-- Backfill: the start of each session's predecessor, same user and build
-- (sessions of one user in one build never share a start). Rows without a
-- predecessor keep NULL and are not rewritten.
UPDATE "sessions" AS s SET "prev_started_at" = p.prev
FROM (
  SELECT id, lag(started_at) OVER (PARTITION BY definition, user_id ORDER BY started_at, id) AS prev
  FROM "sessions"
) AS p
WHERE s.id = p.id AND p.prev IS NOT NULL;
