/**
 * The master group's warm pool in the simulator, as AWS documents it (ec2-auto-scaling-warm-pools,
 * warm-pool-instance-lifecycle): pool instances prepare in Warmed:Pending:Wait, the node completes its
 * own warm-up hook, they stop; the group takes one of the zone it needs (started, Pending:Wait), a
 * pool instance in a zone that is down cannot start, and the pool refills.
 */
import { describe, expect, it } from 'vitest';
import { SimCloud } from '../../src/sim/cloud.js';
import { zoneNames } from '../../src/sim/run.js';

const MIN = 60_000;
const runFor = (cloud: SimCloud, ms: number) => cloud.k.runUntil(cloud.k.now() + ms);

/** The reconciler's part, trivially: completes every Pending:Wait and Terminating:Wait CONTINUE. */
function continueLaunches(cloud: SimCloud) {
  const loop = () => {
    for (const m of cloud.group.members.values()) {
      if (m.lifecycle === 'Pending:Wait') cloud.group.completeLifecycleAction(m.id, 'launching', 'CONTINUE');
      if (m.lifecycle === 'Terminating:Wait')
        cloud.group.completeLifecycleAction(m.id, 'terminating', 'CONTINUE');
    }
    cloud.k.after(5_000, loop);
  };
  cloud.k.after(5_000, loop);
}

const poolStates = (cloud: SimCloud) => [...cloud.group.pool.values()].map((m) => m.lifecycle);

describe('warm pool', () => {
  it('prepares each pool instance (Warmed:Pending:Wait until its node completes the hook), then stops it', async () => {
    const cloud = new SimCloud({
      seed: 5,
      zones: zoneNames(3),
      masters: 3,
      warmPool: { size: 3, state: 'Stopped' },
    });
    await runFor(cloud, 30_000);
    expect(poolStates(cloud)).toEqual(['Warmed:Pending:Wait', 'Warmed:Pending:Wait', 'Warmed:Pending:Wait']);
    expect(new Set([...cloud.group.pool.values()].map((m) => m.zone)).size).toBe(3);
    // DescribeWarmPool lists them (the reconciler's FleetPort, beside the group's); the group's own list does not
    expect(cloud.group.describe().instances).toHaveLength(3);
    expect(cloud.group.describeWarmPool().filter((i) => i.lifecycleState.startsWith('Warmed:'))).toHaveLength(
      3,
    );
    await runFor(cloud, 5 * MIN);
    expect(poolStates(cloud)).toEqual(['Warmed:Stopped', 'Warmed:Stopped', 'Warmed:Stopped']);
    for (const m of cloud.group.pool.values()) expect(cloud.ec2.get(m.id)?.state).toBe('stopped');
  });

  it('a lost master is replaced from the pool instance of its zone (started, packages and images skipped); the pool refills', async () => {
    const cloud = new SimCloud({
      seed: 6,
      zones: zoneNames(3),
      masters: 3,
      warmPool: { size: 3, state: 'Stopped' },
    });
    continueLaunches(cloud);
    await runFor(cloud, 8 * MIN);
    const victim = [...cloud.group.members.values()][0]!;
    const pooled = [...cloud.group.pool.values()].find((m) => m.zone === victim.zone)!;
    const cold = cloud.group.stats.coldStarts;
    cloud.ec2.terminate(victim.id);
    await runFor(cloud, 45_000);
    expect(cloud.group.members.get(pooled.id)?.lifecycle).toMatch(/^Pending|InService/);
    expect(cloud.group.stats).toMatchObject({ warmStarts: 1, coldStarts: cold });
    await runFor(cloud, 2 * MIN);
    const node = cloud.nodes.nodes.get(pooled.id)!;
    expect(node.prepared).toBe(true);
    expect(['waiting-join', 'etcd', 'ready']).toContain(node.phase);
    // the pool launched a new instance in the zone it used
    expect([...cloud.group.pool.values()].filter((m) => m.zone === victim.zone)).toHaveLength(1);
  });

  it('a pool instance in a zone that is down cannot start: the group launches fresh in an available zone', async () => {
    const cloud = new SimCloud({
      seed: 7,
      zones: zoneNames(3),
      masters: 3,
      warmPool: { size: 1, state: 'Stopped' },
    });
    continueLaunches(cloud);
    await runFor(cloud, 8 * MIN);
    const pooled = [...cloud.group.pool.values()][0]!;
    expect(pooled.lifecycle).toBe('Warmed:Stopped');
    const cold = cloud.group.stats.coldStarts;
    cloud.zones.fail(pooled.zone, cloud.k.now());
    expect(cloud.ec2.start(pooled.id, [1, 1])).toBe(false);
    await runFor(cloud, 5 * MIN);
    // the master in the lost zone is replaced elsewhere, cold; the pool instance stays stopped in the pool
    expect(cloud.group.pool.get(pooled.id)?.lifecycle).toBe('Warmed:Stopped');
    expect(cloud.group.stats.coldStarts).toBe(cold + 1);
    expect(cloud.group.stats.warmStarts).toBe(0);
    expect(cloud.group.active().every((m) => m.zone !== pooled.zone)).toBe(true);
  });
});
