import { openDatabase } from '../src/store/database.ts';
import { StatsReader } from '../src/store/stats-reader.ts';
const url = process.argv[2] as string;
const db = await openDatabase({ databaseUrl: url, dataDir: null, poolSize: 4 });
const reader = new StatsReader(db.prisma);
const range = { definition: 'default', from: Date.parse('2026-09-01T00:00:00Z'), to: Date.parse('2026-10-01T00:00:00Z') };
for (const name of ['stats', 'users'] as const) {
  const times: number[] = [];
  for (let i = 0; i < 8; i++) {
    const t = performance.now();
    if (name === 'stats') await reader.engagementStats(range, null);
    else await reader.topUsers(range, 'VALUE', 10);
    times.push(Math.round(performance.now() - t));
  }
  console.log(name, times.join(' '));
}
await db.close();
