// The rollups under concurrency, against a real Postgres: several writer
// transactions insert, move, reopen, close and delete sessions (some roll
// back) while two compactors fold at the same time; afterwards the rollups
// add up to exactly the closed sessions, per hour and per channel, and a
// last fold leaves one row per hour and channel; session_facts holds exactly
// the closed sessions.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, openTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { rng } from '../helpers/random.ts';
import { sessionFacts } from '../helpers/sessions.ts';
import type { Database } from '../../src/store/database.ts';
import { compactRollups } from '../../src/store/rollup-compactor.ts';

const HOUR = 3_600_000;
const BASE = Date.UTC(2026, 5, 1);
const CHANNELS = ['web', 'ios', 'android'];

/** One session row's columns, with its hour and values drawn from `random`. */
function row(random: () => number, id: string) {
  const start = BASE + Math.floor(random() * 6 * HOUR);
  const channels = CHANNELS.filter(() => random() < 0.6).map((channelId) => ({ channelId, count: 1 + Math.floor(random() * 4), firstAt: start, firstEventId: 'e' }));
  return {
    id,
    status: random() < 0.7 ? 'CLOSED' : 'OPEN',
    start: new Date(start).toISOString(),
    duration: Math.floor(random() * 600_000) / 1000,
    events: 1 + Math.floor(random() * 9),
    // Values with no exact float8 sum, and large ones: the rollups must still cancel exactly.
    value: [0, 0.1, 0.2, 0.3, 12_345_678_901.23, 1e-7][Math.floor(random() * 6)] as number,
    channels: JSON.stringify(channels),
    top: channels[0]?.channelId ?? null,
  };
}

const UPSERT = `
  INSERT INTO sessions (id, user_id, status, started_at, ended_at, closes_at, duration_seconds, event_count, event_counts, channels,
    top_channel, total_value, converted, engaged, bounced, first_event_name, last_event_name, first_event_id, last_event_id, version)
  VALUES ($1::uuid, 'u-' || $1::text, $2::"SessionStatus", $3::timestamptz, $3::timestamptz, $3::timestamptz, $4, $5, '{}', $6::jsonb,
    $7, $8::float8, $8::float8 > 0, $5::int > 1, $5::int = 1, 'a', 'b', 'x', 'y', 1)
  ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, started_at = EXCLUDED.started_at, duration_seconds = EXCLUDED.duration_seconds,
    event_count = EXCLUDED.event_count, channels = EXCLUDED.channels, top_channel = EXCLUDED.top_channel, total_value = EXCLUDED.total_value,
    converted = EXCLUDED.converted, engaged = EXCLUDED.engaged, bounced = EXCLUDED.bounced`;

describe('rollups under concurrent writers and compactors', () => {
  let db: TestDatabase;
  let database: Database;

  beforeAll(async () => {
    db = await createTestDatabase();
    database = await openTestDatabase(db.url);
  });
  afterAll(async () => {
    await database?.close();
    await db?.drop();
  });

  it('add up to exactly the closed sessions per hour and channel', { timeout: 120_000 }, async () => {
    if (db.url === null) return expect(db.url).toBeNull(); // one embedded connection cannot race itself
    const ids = Array.from({ length: 300 }, () => randomUUID());
    const writer = async (seed: number) => {
      const random = rng(seed);
      const client = new pg.Client({ connectionString: db.url as string });
      await client.connect();
      try {
        for (let round = 0; round < 40; round++) {
          await client.query('BEGIN');
          for (let k = 0; k < 8; k++) {
            const id = ids[Math.floor(random() * ids.length)] as string;
            if (random() < 0.1) {
              await client.query('DELETE FROM sessions WHERE id = $1', [id]);
            } else {
              const r = row(random, id);
              await client.query(UPSERT, [r.id, r.status, r.start, r.duration, r.events, r.channels, r.top, r.value]);
            }
          }
          await client.query(random() < 0.1 ? 'ROLLBACK' : 'COMMIT');
        }
      } catch (error) {
        // Two writers may take the same rows in another order: Postgres ends one with a deadlock, as it would any writer.
        await client.query('ROLLBACK').catch(() => undefined);
        if ((error as { code?: string }).code !== '40P01') throw error;
      } finally {
        await client.end();
      }
    };
    let folds = 0;
    let writing = true;
    const compactor = async () => {
      while (writing) if (await compactRollups(database.prisma)) folds++;
    };
    const compactors = [compactor(), compactor()];
    try {
      await Promise.all([1, 2, 3].map(writer));
    } finally {
      writing = false;
      await Promise.allSettled(compactors);
    }
    await Promise.all(compactors);
    expect(folds).toBeGreaterThan(3);

    /** Rows of the rollups that differ from the closed sessions (both ways), per table. */
    const exact = async () => {
      const [hours, channels] = await database.prisma.$transaction([
        database.prisma.$queryRawUnsafe<Array<{ d: number }>>(
          `WITH rollup AS (
             SELECT hour, sum(sessions) AS n, sum(events) AS e, sum(duration_seconds) AS dur, sum(bounced) AS b, sum(engaged) AS g,
               sum(converted) AS c, sum(total_value) AS v FROM session_hours GROUP BY 1
             HAVING (sum(sessions), sum(events), sum(duration_seconds), sum(bounced), sum(engaged), sum(converted), sum(total_value))
               <> (0, 0, 0, 0, 0, 0, 0)
           ), direct AS (
             SELECT date_trunc('hour', started_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS hour, count(*)::numeric AS n,
               sum(event_count)::numeric AS e, sum(duration_seconds::text::numeric) AS dur, sum(bounced::int)::numeric AS b,
               sum(engaged::int)::numeric AS g, sum(converted::int)::numeric AS c, sum(total_value::text::numeric) AS v
             FROM sessions WHERE status = 'CLOSED' GROUP BY 1
           )
           SELECT count(*)::int AS d FROM ((TABLE rollup EXCEPT TABLE direct) UNION ALL (TABLE direct EXCEPT TABLE rollup)) AS differs`,
        ),
        database.prisma.$queryRawUnsafe<Array<{ d: number }>>(
          `WITH rollup AS (
             SELECT hour, channel_id, sum(sessions) AS n, sum(events) AS e FROM session_hour_channels GROUP BY 1, 2
             HAVING (sum(sessions), sum(events)) <> (0, 0)
           ), direct AS (
             SELECT date_trunc('hour', s.started_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS hour, c."channelId" AS channel_id,
               (count(*) FILTER (WHERE c."channelId" = s.top_channel))::numeric AS n, sum(c.count)::numeric AS e
             FROM sessions s CROSS JOIN LATERAL jsonb_to_recordset(s.channels) AS c("channelId" text, count int)
             WHERE s.status = 'CLOSED' GROUP BY 1, 2
           )
           SELECT count(*)::int AS d FROM ((TABLE rollup EXCEPT TABLE direct) UNION ALL (TABLE direct EXCEPT TABLE rollup)) AS differs`,
        ),
      ]);
      return { hours: hours[0]?.d, channels: channels[0]?.d };
    };
    const closed = await database.prisma.$queryRawUnsafe<Array<{ n: number }>>(`SELECT count(*)::int AS n FROM sessions WHERE status = 'CLOSED'`);
    expect(closed[0]?.n).toBeGreaterThan(50);
    expect(await exact()).toEqual({ hours: 0, channels: 0 });
    await compactRollups(database.prisma);
    expect(await exact()).toEqual({ hours: 0, channels: 0 });
    const rows = await database.prisma.$queryRawUnsafe<Array<{ hours: number; twice: number }>>(
      `SELECT (SELECT count(*) FROM session_hours WHERE NOT compacted)::int
              + (SELECT count(*) FROM session_hour_channels WHERE NOT compacted)::int AS hours,
              (SELECT count(*) FROM (SELECT 1 FROM session_hours GROUP BY definition, hour HAVING count(*) > 1) AS h)::int
              + (SELECT count(*) FROM (SELECT 1 FROM session_hour_channels GROUP BY definition, hour, channel_id HAVING count(*) > 1) AS c)::int AS twice`,
    );
    expect(rows).toEqual([{ hours: 0, twice: 0 }]);
    // The facts, kept by their own statement triggers through the same
    // inserts, reopenings, closings and deletes, are exactly the closed sessions.
    const facts = await sessionFacts(db.url);
    expect(facts.expected.length).toBe(closed[0]?.n);
    expect(facts.stored).toEqual(facts.expected);
  });
});
