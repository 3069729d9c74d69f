-- analytics.sessions gains the attribution columns (docs/attribution.md),
-- added at the end so that CREATE OR REPLACE keeps the view, its grants and
-- the columns BI tools already read. Not in schema.prisma (see
-- 20261207100000_analytics_views).
CREATE OR REPLACE VIEW "analytics"."sessions" AS
SELECT
  s."id",
  'default'::text AS "definition",
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
FROM "public"."sessions" AS s;
