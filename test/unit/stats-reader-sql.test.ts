// The analytics SQL interpolates names derived from enum arguments (date_trunc
// units, ORDER BY columns, breakdown columns): the reader itself refuses any
// value outside its fixed maps before a statement is built, whatever the
// caller passed (REVIEW.md "Layering").
import { describe, expect, it } from 'vitest';
import type { PrismaClient } from '../../src/generated/prisma/client.ts';
import { StatsReader, type Dimension, type Interval, type UserRanking } from '../../src/store/stats-reader.ts';

/** A client that records the statements it is asked to run. */
function recordingClient(): { prisma: PrismaClient; statements: string[] } {
  const statements: string[] = [];
  const prisma = {
    $queryRawUnsafe: (sql: string) => {
      statements.push(sql);
      return sql;
    },
    $transaction: async (queries: unknown[]) => queries.map(() => []),
  } as unknown as PrismaClient;
  return { prisma, statements };
}

const INJECTION = "day') FROM sessions; DROP TABLE sessions; --";

describe('StatsReader refuses names outside its fixed maps', () => {
  it.each([
    ['engagementSeries', (r: StatsReader) => r.engagementSeries('default', 0, 1, INJECTION as Interval, 'UTC')],
    ['topUsers', (r: StatsReader) => r.topUsers({ definition: 'default', from: null, to: null }, INJECTION as UserRanking, 10)],
    ['breakdown', (r: StatsReader) => r.breakdown({ definition: 'default', from: null, to: null }, INJECTION as Dimension, 10)],
    ['breakdown (prototype key)', (r: StatsReader) => r.breakdown({ definition: 'default', from: null, to: null }, 'toString' as Dimension, 10)],
  ])('%s', async (_name, call) => {
    const { prisma, statements } = recordingClient();
    await expect(call(new StatsReader(prisma))).rejects.toThrow(/unknown/);
    expect(statements).toEqual([]);
  });

  it('builds the statement for known values', async () => {
    const { prisma, statements } = recordingClient();
    const reader = new StatsReader(prisma);
    await reader.engagementSeries('default', 0, 3_600_000, 'WEEK', 'UTC');
    await reader.topUsers({ definition: 'default', from: null, to: null }, 'VALUE', 10);
    await reader.breakdown({ definition: 'default', from: null, to: null }, 'UTM_SOURCE', 10);
    expect(statements.join('\n')).toMatch(/date_trunc\('week'/);
    expect(statements.join('\n')).toMatch(/ORDER BY "totalValue" DESC/);
    expect(statements.join('\n')).toMatch(/SELECT utm_source AS value/);
  });
});
