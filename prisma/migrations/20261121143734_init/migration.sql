-- CreateSchema
CREATE SCHEMA IF NOT EXISTS "public";

-- CreateEnum
CREATE TYPE "SessionStatus" AS ENUM ('OPEN', 'CLOSED');

-- CreateEnum
CREATE TYPE "CloseReason" AS ENUM ('INACTIVITY', 'MAX_DURATION', 'FLUSH');

-- CreateTable
CREATE TABLE "events" (
    "event_id" TEXT NOT NULL,
    "user_id" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "ts" TIMESTAMPTZ(3) NOT NULL,
    "channel_id" TEXT,
    "value" DOUBLE PRECISION,
    "properties" JSONB,
    "received_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "events_pkey" PRIMARY KEY ("event_id")
);

-- CreateTable
CREATE TABLE "sessions" (
    "id" UUID NOT NULL,
    "user_id" TEXT NOT NULL,
    "status" "SessionStatus" NOT NULL,
    "started_at" TIMESTAMPTZ(3) NOT NULL,
    "ended_at" TIMESTAMPTZ(3) NOT NULL,
    "closes_at" TIMESTAMPTZ(3) NOT NULL,
    "duration_seconds" DOUBLE PRECISION NOT NULL,
    "event_count" INTEGER NOT NULL,
    "event_counts" JSONB NOT NULL,
    "channels" JSONB NOT NULL,
    "top_channel" TEXT,
    "total_value" DOUBLE PRECISION NOT NULL,
    "converted" BOOLEAN NOT NULL,
    "engaged" BOOLEAN NOT NULL,
    "bounced" BOOLEAN NOT NULL,
    "first_event_name" TEXT NOT NULL,
    "last_event_name" TEXT NOT NULL,
    "first_event_id" TEXT NOT NULL,
    "last_event_id" TEXT NOT NULL,
    "started_by_cut" BOOLEAN NOT NULL DEFAULT false,
    "close_reason" "CloseReason",
    "closed_at" TIMESTAMPTZ(3),
    "close_seq" BIGINT,
    "version" INTEGER NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "sessions_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "service_state" (
    "id" INTEGER NOT NULL,
    "max_event_ts" BIGINT NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "service_state_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "events_user_ts_idx" ON "events"("user_id", "ts", "event_id");

-- CreateIndex
CREATE UNIQUE INDEX "sessions_close_seq_key" ON "sessions"("close_seq");

-- CreateIndex
CREATE INDEX "sessions_user_started_idx" ON "sessions"("user_id", "started_at" DESC, "id" DESC);

-- CreateIndex
CREATE INDEX "sessions_started_idx" ON "sessions"("started_at" DESC, "id" DESC);

-- Open sessions are updated on every commit that touches them; free space in
-- each page lets Postgres keep those updates HOT (no index maintenance).
-- Prisma's schema language cannot express this, and its diff ignores it.
ALTER TABLE "sessions" SET (fillfactor = 80);
