-- CreateIndex
CREATE INDEX "sessions_status_idx" ON "sessions"("status");

-- Close cursors (sessions.close_seq) come from a sequence rather than from
-- max(close_seq) + 1 at start: when the newest closed session is later merged
-- away (its row deleted) and the service restarts, a cursor a client already
-- holds must not be handed out again. Not in schema.prisma: Prisma's schema
-- language has no standalone sequences, and its diff leaves them alone.
CREATE SEQUENCE "session_close_seq" AS BIGINT;
SELECT setval('session_close_seq', coalesce((SELECT max("close_seq") FROM "sessions"), 0) + 1, false);
