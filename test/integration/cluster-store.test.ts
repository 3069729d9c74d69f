import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  checkFence,
  claim,
  ensureSettings,
  FencedError,
  forgetDead,
  liveInstances,
  ownedBy,
  register,
  renewLease,
} from '../../src/cluster/cluster-store.ts';
import { partitionOf } from '../../src/cluster/partition.ts';
import type { Database } from '../../src/store/database.ts';
import { createTestDatabase, openTestDatabase, postgresAvailable, type TestDatabase } from '../helpers/database.ts';

const SETTINGS = { partitions: 8, partitionsExplicit: true, secret: 'a-secret-of-the-cluster' };

/** Ends the lease of an instance now (as if it stopped renewing long ago). */
async function expire(db: Database, id: string): Promise<void> {
  await db.prisma.$executeRawUnsafe(`UPDATE cluster_instances SET lease_until = now() - interval '1 second' WHERE id = $1`, id);
}

// Two connections to one database take part in each race: only a Postgres server gives that (each in-memory PGlite is its own database).
describe.skipIf(!(await postgresAvailable()))('cluster store: ownership and fencing on Postgres', () => {
  let test: TestDatabase;
  let db: Database;
  let other: Database;
  beforeAll(async () => {
    test = await createTestDatabase();
    db = await openTestDatabase(test.url);
    other = await openTestDatabase(test.url);
    await ensureSettings(db.prisma, SETTINGS);
  });
  afterAll(async () => {
    await other?.close();
    await db?.close();
    await test?.drop();
  });
  // Each test starts with no live instance: the partitions an earlier test's instances own are free.
  beforeEach(async () => {
    await db.prisma.$executeRawUnsafe(`UPDATE cluster_instances SET lease_until = now() - interval '1 second'`);
  });

  it('keeps the first partition count and refuses a different explicit one', async () => {
    await expect(ensureSettings(db.prisma, { ...SETTINGS, partitions: 16 })).rejects.toThrow(/CLUSTER_PARTITIONS=16 differs from the 8 partitions/);
    expect(await ensureSettings(db.prisma, { ...SETTINGS, partitions: 16, partitionsExplicit: false, secret: 'another' })).toEqual({
      partitions: 8,
      secret: SETTINGS.secret,
    });
  });

  it('computes the same partition in SQL as in the service', async () => {
    const ids = ['', 'a', 'user-1', 'user-12345', 'é-ü', '東京', '😀 emoji', "quote'd"];
    const rows = await db.prisma.$queryRawUnsafe<Array<{ p: number }>>(
      `SELECT sessions_partition_of(u, 64) AS p FROM unnest($1::text[]) WITH ORDINALITY AS x(u, o) ORDER BY o`,
      `{${ids.map((id) => `"${id.replace(/"/g, '\\"')}"`).join(',')}}`,
    );
    expect(rows.map((r) => r.p)).toEqual(ids.map((id) => partitionOf(id, 64)));
  });

  it('lets exactly one of several racing claims take each partition', async () => {
    for (const id of ['r1', 'r2', 'r3']) await register(db.prisma, id, `http://${id}`, 60_000, null);
    const results = await Promise.all([claim(db.prisma, 'r1', null, false), claim(other.prisma, 'r2', null, false), claim(db.prisma, 'r3', null, false)]);
    const taken = results.flat().map((c) => c.partition).sort((a, b) => a - b);
    expect(taken).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    for (const id of ['r1', 'r2', 'r3']) await expire(db, id);
  });

  it('fences a writer whose partitions were taken, and makes a takeover wait for a writer that checked first', async () => {
    await register(db.prisma, 'old', 'http://old', 60_000, null);
    const mine = await claim(db.prisma, 'old', null, false);
    expect(mine.length).toBe(8);
    const generation = (await renewLease(db.prisma, 'old', 60_000)) as bigint;

    // The writer checks first and holds its row under FOR SHARE: a takeover cannot complete before its commit.
    await register(db.prisma, 'new', 'http://new', 60_000, null);
    await expire(db, 'old');
    let committed = false;
    await db.prisma.$transaction(async (tx) => {
      await checkFence(tx, 'old', generation);
      // lock_timeout (1 s) ends the takeover's wait: it takes nothing while the writer's transaction is open.
      await expect(claim(other.prisma, 'new', null, false)).rejects.toThrow(/lock timeout/i);
      committed = true;
    });
    expect(committed).toBe(true);

    // After that commit the takeover goes through, and the old owner's next transaction is fenced.
    expect((await claim(other.prisma, 'new', null, false)).map((c) => c.from)).toEqual(new Array(8).fill('old'));
    await expect(db.prisma.$transaction((tx) => checkFence(tx, 'old', generation))).rejects.toBeInstanceOf(FencedError);
    expect(await ownedBy(db.prisma, 'old')).toEqual([]);
    expect((await ownedBy(db.prisma, 'new')).length).toBe(8);
    expect((await liveInstances(db.prisma)).map((i) => i.id)).toEqual(['new']);
  });

  it('forgets instances dead for longer than asked that own no partition, and only those', async () => {
    const ids = ['gone-long-ago', 'gone-long-ago-owning', 'gone-lately', 'alive'];
    for (const id of ids) await register(db.prisma, id, `http://${id}`, 60_000, null);
    await db.prisma.$executeRawUnsafe(`UPDATE cluster_instances SET lease_until = now() - interval '2 hours' WHERE id IN ('gone-long-ago', 'gone-long-ago-owning')`);
    await db.prisma.$executeRawUnsafe(`UPDATE cluster_instances SET lease_until = now() - interval '1 minute' WHERE id = 'gone-lately'`);
    await db.prisma.$executeRawUnsafe(`UPDATE cluster_partitions SET owner = 'gone-long-ago-owning' WHERE partition = 0`);
    expect(await forgetDead(db.prisma, 3_600_000)).toBe(1);
    const left = await db.prisma.$queryRawUnsafe<Array<{ id: string }>>(`SELECT id FROM cluster_instances WHERE id = ANY($1::text[]) ORDER BY id`, `{${ids.join(',')}}`);
    expect(left.map((r) => r.id)).toEqual(['alive', 'gone-lately', 'gone-long-ago-owning']);
    // A forgotten instance that comes back is fenced, as after a takeover.
    await expect(db.prisma.$transaction((tx) => checkFence(tx, 'gone-long-ago', 0n))).rejects.toBeInstanceOf(FencedError);
    await db.prisma.$executeRawUnsafe(`UPDATE cluster_partitions SET owner = NULL WHERE partition = 0`);
  });

  it('counts an instance whose listener connection is gone as dead before its lease ends', async () => {
    await register(db.prisma, 'gone', 'http://gone', 60_000, 'sessions:no-such-backend');
    await register(db.prisma, 'here', 'http://here', 60_000, 'sessions:integration-here');
    // 'here' names a connection that exists: give this test's own connections that name.
    await db.prisma.$executeRawUnsafe(`SET application_name = 'sessions:integration-here'`);
    const live = (await liveInstances(db.prisma)).map((i) => i.id);
    expect(live).toContain('here');
    expect(live).not.toContain('gone');
  });
});
