/**
 * An instance refresh of a group with a warm pool, as AWS documents it (ec2-auto-scaling-warm-pools,
 * "Update the instances in a warm pool"): "An instance refresh first replaces InService instances.
 * Then it replaces instances in the warm pool." So after a successful refresh no pool instance of the
 * old launch template version is left for the group to take into service later.
 */
import { describe, expect, it } from 'vitest';
import { reconcilePass } from '../../src/heal/reconcile.js';
import { SimCloud } from '../../src/sim/cloud.js';
import { SimInstanceRefresh } from '../../src/sim/instance-refresh.js';
import { ReconcilerLambda } from '../../src/sim/lambda.js';
import { zoneNames } from '../../src/sim/run.js';
import { masterRefreshPreferences } from '../../src/upgrade/plan.js';

const MIN = 60_000;

async function refreshedWithPool(seed: number, size: number, zones = 3, warmupSeconds = 0) {
  const cloud = new SimCloud({
    seed,
    zones: zoneNames(zones),
    masters: 3,
    warmPool: { size, state: 'Stopped' },
  });
  new ReconcilerLambda(cloud, reconcilePass);
  const refresh = new SimInstanceRefresh(cloud);
  await cloud.k.runUntil(cloud.k.now() + 20 * MIN);
  const before = [...cloud.group.pool.values()];
  expect(before.map((m) => m.lifecycle)).toEqual(Array(size).fill('Warmed:Stopped'));
  expect(before.map((m) => refresh.versions.get(m.id))).toEqual(Array(size).fill('1'));
  // the provisioner's apply writes version 2; the upgrade starts the refresh
  refresh.setLaunchTemplateVersion('2');
  const id = refresh.start('2', masterRefreshPreferences(3, warmupSeconds));
  // the group's instances come first: while any is outdated, the old pool instances are still there
  let poolTouchedEarly = false;
  // When each pool instance of version 2 was first ready (Warmed:Stopped and Healthy), and when the
  // refresh ended.
  const poolReadyAt = new Map<string, number>();
  let endedAt: number | undefined;
  cloud.k.afterEvent = () => {
    for (const m of cloud.group.pool.values())
      if (
        refresh.versions.get(m.id) === '2' &&
        m.lifecycle === 'Warmed:Stopped' &&
        m.health === 'Healthy' &&
        !poolReadyAt.has(m.id)
      )
        poolReadyAt.set(m.id, cloud.k.now());
    if (endedAt === undefined && refresh.refreshes.find((r) => r.id === id)?.status === 'Successful')
      endedAt = cloud.k.now();
    const live = cloud.group.active();
    const outdatedLive = live.some((m) => refresh.versions.get(m.id) !== '2');
    const leftPool = before.some((m) => cloud.group.pool.get(m.id)?.lifecycle.startsWith('Warmed:Terminat'));
    if (outdatedLive && leftPool) poolTouchedEarly = true;
  };
  const done = () => refresh.refreshes.find((r) => r.id === id)?.status;
  await cloud.k.runUntil(cloud.k.now() + 180 * MIN, () => done() === 'Successful' || done() === 'Failed');
  cloud.k.afterEvent = undefined;
  return { cloud, refresh, before, status: done(), poolTouchedEarly, poolReadyAt, endedAt };
}

describe('instance refresh with a warm pool', () => {
  it('replaces the group instances first, then the pool: none of the old version is left when it succeeds', async () => {
    // 3 masters in 4 zones, a pool instance in each: the refresh's replacement launches go to the
    // masters' zones (and may take the pool instance there), never to the fourth, whose old pool
    // instance only the pool's own replacement removes
    const { cloud, refresh, before, status, poolTouchedEarly } = await refreshedWithPool(31, 4, 4);
    expect(status).toBe('Successful');
    expect(poolTouchedEarly).toBe(false);
    const live = cloud.group.active();
    expect(live.map((m) => refresh.versions.get(m.id))).toEqual(['2', '2', '2']);
    const pool = [...cloud.group.pool.values()];
    expect(pool.map((m) => refresh.versions.get(m.id))).toEqual(['2', '2', '2', '2']);
    expect(pool.map((m) => m.lifecycle)).toEqual(Array(4).fill('Warmed:Stopped'));
    // the old pool instances are gone (not merely moved into the group: the group is all version 2)
    for (const m of before) expect(cloud.ec2.get(m.id)?.state).toBe('terminated');
    const view = refresh.describe()[0]!;
    expect(view).toMatchObject({ status: 'Successful', percentageComplete: 100, instancesToUpdate: 0 });
  });

  it("ends no earlier than the refresh's instance warm-up after the last pool instance is ready (InstanceRefreshWarmPoolProgress)", async () => {
    // "When the instance's health status changes to healthy and the specified warm-up time passes,
    // the instance is considered updated": a pool replacement counts once healthy AND warmed up.
    const warmup = 600;
    const { cloud, refresh, status, poolReadyAt, endedAt } = await refreshedWithPool(33, 4, 4, warmup);
    expect(status).toBe('Successful');
    // the pool is back to its size when it ends (a stale instance leaves before its refill launches)
    expect(cloud.group.poolShort()).toBeUndefined();
    const pool = [...cloud.group.pool.values()];
    expect(pool.map((m) => refresh.versions.get(m.id))).toEqual(['2', '2', '2', '2']);
    const lastReady = Math.max(...pool.map((m) => poolReadyAt.get(m.id) ?? Number.NaN));
    expect(Number.isFinite(lastReady)).toBe(true);
    expect(endedAt).toBeDefined();
    expect(endedAt!).toBeGreaterThanOrEqual(lastReady + warmup * 1000);
    // ... and not much later: the refresh's next tick after the warm-up (5 s)
    expect(endedAt!).toBeLessThanOrEqual(lastReady + warmup * 1000 + 10_000);
  });

  it('after it, the masters lost one after another are all replaced from pool instances of the new version', async () => {
    const { cloud, refresh, status } = await refreshedWithPool(32, 4, 4);
    expect(status).toBe('Successful');
    // each replacement goes to an emptiest zone (the fourth, without a master, or the lost one's),
    // taking the pool instance there; four losses in a row reach the fourth zone's instance too
    const taken: string[] = [];
    for (let n = 0; n < 4; n++) {
      const before = new Set(cloud.group.active().map((m) => m.id));
      const warm = cloud.group.stats.warmStarts;
      cloud.ec2.terminate([...before][0]!);
      await cloud.k.runUntil(cloud.k.now() + 5 * MIN, () => cloud.group.stats.warmStarts > warm);
      taken.push(
        ...cloud.group
          .active()
          .filter((m) => !before.has(m.id))
          .map((m) => m.id),
      );
      await cloud.k.runUntil(cloud.k.now() + 10 * MIN);
    }
    expect(taken).toHaveLength(4);
    expect(taken.map((id) => refresh.versions.get(id))).toEqual(['2', '2', '2', '2']);
  });
});
