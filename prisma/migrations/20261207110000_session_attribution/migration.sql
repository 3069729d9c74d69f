-- AlterTable
ALTER TABLE "sessions" ADD COLUMN     "attribution_keys" JSONB,
ADD COLUMN     "channel_group" TEXT,
ADD COLUMN     "entry_url" TEXT,
ADD COLUMN     "exit_url" TEXT,
ADD COLUMN     "referrer" TEXT,
ADD COLUMN     "referrer_domain" TEXT,
ADD COLUMN     "utm_campaign" TEXT,
ADD COLUMN     "utm_content" TEXT,
ADD COLUMN     "utm_medium" TEXT,
ADD COLUMN     "utm_source" TEXT,
ADD COLUMN     "utm_term" TEXT;
