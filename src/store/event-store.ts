import type { PrismaClient } from '../generated/prisma/client.ts';

/** A Prisma client or the client of an interactive transaction. */
export type Db = Pick<PrismaClient, '$queryRawUnsafe' | '$executeRawUnsafe'>;

/** An event row as the writer stores it (ts in ms since the epoch; properties as JSON text). */
export interface EventRow {
  readonly eventId: string;
  readonly userId: string;
  readonly name: string;
  readonly ts: number;
  readonly channelId: string | null;
  readonly value: number | null;
  readonly properties?: string | null;
}

/**
 * Inserts events in one set-based statement (jsonb_to_recordset: one
 * parameter, any batch size) and returns the eventIds that were new. An id
 * already stored is left alone: that is what makes ingest idempotent.
 */
export async function insertEvents(db: Db, events: readonly EventRow[]): Promise<Set<string>> {
  if (events.length === 0) return new Set();
  const payload = JSON.stringify(
    events.map((e) => ({
      event_id: e.eventId,
      user_id: e.userId,
      name: e.name,
      ts: e.ts,
      channel_id: e.channelId,
      value: e.value,
      properties: e.properties ?? null,
    })),
  );
  const rows = await db.$queryRawUnsafe<Array<{ event_id: string }>>(
    `INSERT INTO events (event_id, user_id, name, ts, channel_id, value, properties)
     SELECT x.event_id, x.user_id, x.name, timestamptz 'epoch' + x.ts * interval '1 millisecond',
            x.channel_id, x.value, x.properties::jsonb
     FROM jsonb_to_recordset($1::jsonb)
       AS x(event_id text, user_id text, name text, ts bigint, channel_id text, value float8, properties text)
     ON CONFLICT (event_id) DO NOTHING
     RETURNING event_id`,
    payload,
  );
  return new Set(rows.map((r) => r.event_id));
}

/** Every stored event of one user with ts in [fromTs, toTs], ordered by (ts, eventId). */
export async function loadUserEvents(db: Db, userId: string, fromTs: number, toTs: number): Promise<EventRow[]> {
  const rows = await db.$queryRawUnsafe<
    Array<{ event_id: string; user_id: string; name: string; ts: number; channel_id: string | null; value: number | null }>
  >(
    `SELECT event_id, user_id, name, (extract(epoch FROM ts) * 1000)::float8 AS ts, channel_id, value
     FROM events
     WHERE user_id = $1
       AND ts >= timestamptz 'epoch' + $2::bigint * interval '1 millisecond'
       AND ts <= timestamptz 'epoch' + $3::bigint * interval '1 millisecond'
     ORDER BY ts, event_id`,
    userId,
    fromTs,
    toTs,
  );
  return rows.map((r) => ({
    eventId: r.event_id,
    userId: r.user_id,
    name: r.name,
    ts: Math.round(r.ts),
    channelId: r.channel_id,
    value: r.value,
  }));
}
