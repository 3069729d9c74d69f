// The DuckDB side of bench/cli.ts: the same sessions (gap only: a plain
// gap-and-islands query) over the same file, with 2 threads, written to a
// file. Plain JavaScript, so that no TypeScript loader is timed with it.
//
//   node bench/duckdb-sessionize.mjs FILE OUT GAP_MS TS NAME USER CHANNEL
//
// TS, NAME, USER, CHANNEL: SQL expressions over read_json's columns
// (bench/cli-files.ts, Shape.sql). Only the sessionization is timed: the
// caller counts the sessions in OUT (one JSON object per line) afterwards.
import { DuckDBInstance } from '@duckdb/node-api';

const [file, out, gapMs, ts, name, user, channel] = process.argv.slice(2);
const quote = (s) => `'${s.replaceAll("'", "''")}'`;
const instance = await DuckDBInstance.create(':memory:', { threads: '2' });
const con = await instance.connect();
await con.run("SET TimeZone = 'UTC'");
await con.run(`COPY (
  WITH ev AS (
    SELECT row_number() OVER () AS rn, CAST(${user} AS VARCHAR) AS u, CAST(${name} AS VARCHAR) AS name,
           CAST(${channel} AS VARCHAR) AS ch, ${ts} AS ts
    FROM read_json(${quote(file)}, format = 'newline_delimited')),
  marked AS (
    SELECT *, CASE WHEN ts - lag(ts) OVER (PARTITION BY u ORDER BY ts, rn) > ${Number(gapMs)} THEN 1 ELSE 0 END AS brk FROM ev),
  numbered AS (
    SELECT *, sum(brk) OVER (PARTITION BY u ORDER BY ts, rn ROWS UNBOUNDED PRECEDING) AS sid FROM marked),
  sessions AS (
    SELECT u, sid, min(ts) AS st, max(ts) AS en, count(*) AS n,
           arg_min(name, (ts, rn)) AS first_name, arg_max(name, (ts, rn)) AS last_name
    FROM numbered GROUP BY u, sid),
  channels AS (
    SELECT u, sid, ch, count(*) AS c, min((ts, rn)) AS f FROM numbered WHERE ch IS NOT NULL GROUP BY u, sid, ch),
  top AS (
    SELECT u, sid, arg_min(ch, (-c, f, ch)) AS top_channel, max(c) AS top_count FROM channels GROUP BY u, sid)
  SELECT s.u AS "userId", make_timestamp(s.st * 1000) AS "startedAt", make_timestamp(s.en * 1000) AS "endedAt",
         (s.en - s.st) / 1000 AS "durationSeconds", s.n AS "eventCount", t.top_channel AS "topChannel",
         t.top_count AS "topChannelCount", s.first_name AS "firstEventName", s.last_name AS "lastEventName"
  FROM sessions s LEFT JOIN top t USING (u, sid)
) TO ${quote(out)} (FORMAT json)`);
