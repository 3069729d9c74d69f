-- AlterTable
ALTER TABLE "sessions" ADD COLUMN     "partition" INTEGER;

-- CreateTable
CREATE TABLE "cluster_settings" (
    "id" INTEGER NOT NULL,
    "partitions" INTEGER NOT NULL,
    "secret" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "cluster_settings_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "cluster_instances" (
    "id" TEXT NOT NULL,
    "url" TEXT NOT NULL,
    "started_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "last_seen_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "lease_until" TIMESTAMPTZ(3) NOT NULL,
    "generation" BIGINT NOT NULL DEFAULT 0,
    "leaving" BOOLEAN NOT NULL DEFAULT false,
    "backend_name" TEXT,

    CONSTRAINT "cluster_instances_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "cluster_partitions" (
    "partition" INTEGER NOT NULL,
    "owner" TEXT,
    "epoch" BIGINT NOT NULL DEFAULT 0,
    "changed_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "cluster_partitions_pkey" PRIMARY KEY ("partition")
);

-- CreateIndex
CREATE INDEX "cluster_partitions_owner_idx" ON "cluster_partitions"("owner");

-- Written by hand below this line (see docs/migrations.md).

-- The partition of a user: FNV-1a (32 bits) over the UTF-8 bytes of user_id,
-- modulo the partition count. The same function as partitionOf in
-- src/cluster/partition.ts; kept here so that SQL (backfills, BI, checks)
-- can compute it too.
CREATE FUNCTION "sessions_partition_of"(user_id TEXT, partitions INTEGER) RETURNS INTEGER
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
  bytes BYTEA := convert_to(user_id, 'UTF8');
  h BIGINT := 2166136261;
BEGIN
  FOR i IN 0 .. length(bytes) - 1 LOOP
    h := ((h # get_byte(bytes, i)) * 16777619) % 4294967296;
  END LOOP;
  RETURN (h % partitions)::INTEGER;
END
$$;

