/**
 * The warm pool's own faults in the simulator, as AWS documents its health checks
 * (warm-pools-health-checks-monitor-view-status): no check until an instance's lifecycle hook
 * finishes; then a Stopped instance is judged by its EBS volume's status, a Running one by EC2 status
 * checks; an unhealthy one is terminated and a new one launched. And `tripod simulate` runs the pool
 * the provisioner declares for the spec it simulates, with a fault that loses pool instances.
 */
import { describe, expect, it } from 'vitest';
import { clusterSpecSchema } from '../../src/cluster-spec/schema.js';
import { reconcilePass } from '../../src/heal/reconcile.js';
import { SimCloud } from '../../src/sim/cloud.js';
import { applyFault, FAULT_KINDS } from '../../src/sim/faults.js';
import { SimInstanceRefresh } from '../../src/sim/instance-refresh.js';
import { ReconcilerLambda } from '../../src/sim/lambda.js';
import { simulate, zoneNames } from '../../src/sim/run.js';
import { masterRefreshPreferences } from '../../src/upgrade/plan.js';
import { pooledCloud } from '../support/sim-scenarios.js';

const MIN = 60_000;
const runFor = (cloud: SimCloud, ms: number) => cloud.k.runUntil(cloud.k.now() + ms);
const pool = (cloud: SimCloud) => [...cloud.group.pool.values()];

/** A cloud with the real reconciler and a pool of `size` in `state`, run until the pool is ready. */
async function withPool(seed: number, size: number, state: 'Stopped' | 'Running') {
  const cloud = new SimCloud({ seed, zones: zoneNames(3), masters: 3, warmPool: { size, state } });
  const lambda = new ReconcilerLambda(cloud, reconcilePass);
  await cloud.k.runUntil(cloud.k.now() + 30 * MIN, () => poolLive(cloud, state));
  expect(pool(cloud).map((m) => m.lifecycle)).toEqual(Array(size).fill(`Warmed:${state}`));
  return { cloud, lambda };
}

/** The pool holds `size` ready instances whose EC2 instances are in the pool's state (none dead). */
function poolLive(cloud: SimCloud, state: 'Stopped' | 'Running'): boolean {
  const size = cloud.group.opts.warmPool?.size ?? 0;
  const live = pool(cloud).filter(
    (m) => m.lifecycle === `Warmed:${state}` && cloud.ec2.get(m.id)?.state === state.toLowerCase(),
  );
  return live.length === size && pool(cloud).length === size;
}

describe('warm pool health checks', () => {
  it('a Stopped pool instance whose EC2 instance is terminated is replaced: the pool refills with a live one', async () => {
    const { cloud } = await withPool(41, 1, 'Stopped');
    const [lost] = pool(cloud);
    cloud.ec2.terminate(lost!.id);
    await cloud.k.runUntil(cloud.k.now() + 20 * MIN, () => poolLive(cloud, 'Stopped'));
    expect(cloud.group.pool.has(lost!.id)).toBe(false);
    expect(poolLive(cloud, 'Stopped')).toBe(true);
    const text = cloud.k.timelineText();
    expect(text).toContain(
      `warm pool: ${lost!.id} (${lost!.zone}) Warmed:Stopped failed its EBS volume status`,
    );
    // it left the pool through the terminating hook, which the reconciler completed
    expect(text).toMatch(new RegExp(`lifecycle terminating ${lost!.id} completed CONTINUE`));
  });

  it('a pool instance lost while it stops (Warmed:Pending:Proceed) is replaced, not waited for', async () => {
    const cloud = pooledCloud(42, 1);
    new ReconcilerLambda(cloud, reconcilePass);
    await cloud.k.runUntil(cloud.k.now() + 30 * MIN, () =>
      pool(cloud).some(
        (m) => m.lifecycle === 'Warmed:Pending:Proceed' && cloud.ec2.get(m.id)?.state === 'stopping',
      ),
    );
    const [stopping] = pool(cloud);
    expect(cloud.ec2.get(stopping!.id)?.state).toBe('stopping');
    cloud.ec2.terminate(stopping!.id);
    await cloud.k.runUntil(cloud.k.now() + 20 * MIN, () => poolLive(cloud, 'Stopped'));
    expect(cloud.group.pool.has(stopping!.id)).toBe(false);
    expect(poolLive(cloud, 'Stopped')).toBe(true);
  });

  it('no health check while the warm-up hook holds an instance: one lost while it prepares goes at the hook timeout (ABANDON)', async () => {
    const cloud = pooledCloud(43, 1);
    new ReconcilerLambda(cloud, reconcilePass);
    await runFor(cloud, 20_000);
    const [preparing] = pool(cloud);
    expect(preparing!.lifecycle).toBe('Warmed:Pending:Wait');
    const lostAt = cloud.k.now();
    cloud.ec2.terminate(preparing!.id);
    await runFor(cloud, 5 * MIN);
    // still held by its hook, not health-checked
    expect(cloud.group.pool.get(preparing!.id)?.lifecycle).toBe('Warmed:Pending:Wait');
    await cloud.k.runUntil(lostAt + 40 * MIN, () => poolLive(cloud, 'Stopped'));
    expect(cloud.k.timelineText()).toMatch(
      new RegExp(`lifecycle launching ${preparing!.id} timed out: default ABANDON`),
    );
    expect(poolLive(cloud, 'Stopped')).toBe(true);
  });

  it('a Running pool instance in a zone down past the status-check grace fails EC2 status checks: replaced in an available zone', async () => {
    const { cloud } = await withPool(44, 1, 'Running');
    const [inZone] = pool(cloud);
    cloud.zones.fail(inZone!.zone, cloud.k.now());
    cloud.networkChanged();
    await cloud.k.runUntil(
      cloud.k.now() + 20 * MIN,
      () => !cloud.group.pool.has(inZone!.id) && poolLive(cloud, 'Running'),
    );
    expect(cloud.group.pool.has(inZone!.id)).toBe(false);
    expect(pool(cloud).every((m) => m.zone !== inZone!.zone)).toBe(true);
    expect(cloud.k.timelineText()).toContain(
      `${inZone!.id} (${inZone!.zone}) Warmed:Running failed EC2 status checks`,
    );
  });

  it('an instance refresh whose new pool instance is lost while it stops still succeeds (the pool refills)', async () => {
    const { cloud } = await withPool(45, 1, 'Stopped');
    const refresh = new SimInstanceRefresh(cloud);
    refresh.setLaunchTemplateVersion('2');
    const id = refresh.start('2', masterRefreshPreferences(3));
    const status = () => refresh.refreshes.find((r) => r.id === id)?.status;
    // the pool's part: the old pool instance leaves, the new one prepares and stops
    await cloud.k.runUntil(cloud.k.now() + 180 * MIN, () =>
      pool(cloud).some((m) => refresh.versions.get(m.id) === '2' && m.lifecycle === 'Warmed:Pending:Proceed'),
    );
    const stopping = pool(cloud).find((m) => m.lifecycle === 'Warmed:Pending:Proceed')!;
    expect(refresh.versions.get(stopping.id)).toBe('2');
    expect(status()).toBe('InProgress');
    cloud.ec2.terminate(stopping.id);
    await cloud.k.runUntil(cloud.k.now() + 60 * MIN, () => status() === 'Successful');
    expect(status()).toBe('Successful');
    expect(poolLive(cloud, 'Stopped')).toBe(true);
    expect(pool(cloud).map((m) => refresh.versions.get(m.id))).toEqual(['2']);
  });

  it('the warm-pool-loss fault loses a pool instance (a fault, not the group) and the group replaces it', async () => {
    const { cloud, lambda } = await withPool(46, 2, 'Stopped');
    const before = pool(cloud).map((m) => m.id);
    applyFault(cloud, lambda, { at: 0, kind: 'warm-pool-loss', pick: 1 });
    const lost = before.find((id) => cloud.ec2.get(id)?.state === 'terminated');
    expect(lost).toBeDefined();
    expect(cloud.faults.killed.has(lost!)).toBe(true);
    await cloud.k.runUntil(cloud.k.now() + 20 * MIN, () => poolLive(cloud, 'Stopped'));
    expect(poolLive(cloud, 'Stopped')).toBe(true);
    expect(cloud.group.pool.has(lost!)).toBe(false);
  });
});

describe('tripod simulate runs the warm pool the provisioner declares', () => {
  it('the default spec: one Stopped instance; size 0: none; a spec of its own: its pool', async () => {
    const dflt = await simulate({ seed: 51, faults: [] });
    expect(dflt.ok).toBe(true);
    expect(dflt.timeline).toMatch(/seed 51: 3 zones, 3 masters, a warm pool of 1 Stopped,/);
    expect(dflt.timeline).toMatch(/Warmed:Stopped/);
    const none = await simulate({ seed: 51, faults: [], warmPool: { size: 0 } });
    expect(none.ok).toBe(true);
    expect(none.timeline).toMatch(/no warm pool/);
    expect(none.timeline).not.toMatch(/Warmed:/);
    const spec = clusterSpecSchema.parse({
      apiVersion: 'tripod/v1',
      kind: 'Cluster',
      name: 'poolspec',
      region: 'eu-west-1',
      kubernetesVersion: '1.32.4',
      network: { cidr: '10.0.0.0/16', zones: zoneNames(3) },
      masters: { warmPool: { size: 2, state: 'Running' } },
    });
    const own = await simulate({ seed: 51, faults: [], spec });
    expect(own.ok).toBe(true);
    expect(own.timeline).toMatch(/a warm pool of 2 Running/);
    const over = await simulate({ seed: 51, faults: [], spec, warmPool: { state: 'Stopped' } });
    expect(over.timeline).toMatch(/a warm pool of 2 Stopped/);
  });

  it('converges only once the pool is back to its size after a warm-pool-loss', async () => {
    const r = await simulate({
      seed: 52,
      schedule: { faults: [{ at: 20 * MIN, kind: 'warm-pool-loss', pick: 0 }], end: 20 * MIN },
    });
    expect(r.violations).toEqual([]);
    const lines = r.timeline.split('\n');
    const loss = lines.findIndex((l) => l.includes('EC2 loses the warm pool instance'));
    expect(loss).toBeGreaterThan(0);
    const lostId = /instance (i-[0-9a-f]+)/.exec(lines[loss]!)![1]!;
    const converged = lines.findIndex((l) => l.includes('converged'));
    const replaced = lines.findIndex((l, i) => i > loss && /warm pool: launch i-/.test(l));
    const ready = lines.findIndex((l, i) => i > replaced && / Warmed:Stopped$/.test(l));
    expect(lines.some((l) => l.includes(`${lostId} (`) && l.includes('failed its EBS volume status'))).toBe(
      true,
    );
    expect(replaced).toBeGreaterThan(loss);
    expect(ready).toBeGreaterThan(replaced);
    expect(converged).toBeGreaterThan(ready);
  });

  it('replays a seed with the pool and its faults identically', async () => {
    const opts = {
      seed: 53,
      faults: ['warm-pool-loss', 'kill', 'zone-outage', 'zone-recovery'] as const,
      warmPool: { size: 2, state: 'Running' as const },
    };
    const a = await simulate({ ...opts, faults: [...opts.faults] });
    const b = await simulate({ ...opts, faults: [...opts.faults] });
    expect(a.ok).toBe(true);
    expect(a.timeline).toMatch(/EC2 loses the warm pool instance/);
    expect(a.timeline).toMatch(/Warmed:Running failed EC2 status checks/);
    expect(a.timeline).toBe(b.timeline);
  });

  it('is one of the fault kinds seeded runs draw from', () => {
    expect(FAULT_KINDS).toContain('warm-pool-loss');
  });
});
