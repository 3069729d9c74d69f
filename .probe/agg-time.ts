import { openDatabase } from '../src/store/database.ts';
import { StatsReader } from '../src/store/stats-reader.ts';
const url = process.argv[2] as string;
const db = await openDatabase({ databaseUrl: url, dataDir: null, poolSize: 4 });
const reader = new StatsReader(db.prisma);
const range = { definition: 'default', from: Date.parse('2026-09-01T00:00:00Z'), to: Date.parse('2026-10-01T00:00:00Z') };
const runs: Record<string, () => Promise<unknown>> = {
  stats: () => reader.engagementStats(range, null),
  series: () => reader.engagementSeries('default', range.from, range.to, 'DAY', 'Europe/Berlin'),
  channels: () => reader.topChannels(range, 10),
  users: () => reader.topUsers(range, 'VALUE', 10),
};
for (const [name, run] of Object.entries(runs)) {
  const times: number[] = [];
  for (let i = 0; i < 8; i++) {
    const t = performance.now();
    await run();
    times.push(Math.round(performance.now() - t));
  }
  times.sort((a, b) => a - b);
  console.log(name, 'median', times[4], 'all', times.join(' '));
}
await db.close();
