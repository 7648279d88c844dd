/**
 * The master group's warm pool in the simulator, as AWS documents it (ec2-auto-scaling-warm-pools,
 * warm-pool-instance-lifecycle): pool instances prepare in Warmed:Pending:Wait, the node completes its
 * own warm-up hook, they stop; the group takes one of the zone it needs (started, Pending:Wait), a
 * pool instance in a zone that is down cannot start, and the pool refills. The pool's size follows
 * API_PutWarmPool's formula; a pool instance leaving it waits on the terminating hook
 * (Warmed:Terminating:Wait), which the reconciler completes.
 */
import { describe, expect, it } from 'vitest';
import { reconcilePass } from '../../src/heal/reconcile.js';
import { AutoScalingGroup } from '../../src/sim/auto-scaling.js';
import { SimCloud } from '../../src/sim/cloud.js';
import { Ec2 } from '../../src/sim/ec2.js';
import { EventBus } from '../../src/sim/eventbridge.js';
import { Kernel } from '../../src/sim/kernel.js';
import { ReconcilerLambda } from '../../src/sim/lambda.js';
import { zoneNames } from '../../src/sim/run.js';
import { Zones } from '../../src/sim/zones.js';
import { pooledCloud } from '../support/sim-scenarios.js';

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
    const cloud = pooledCloud(5, 3);
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
    const cloud = pooledCloud(6, 3);
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
    const cloud = pooledCloud(7, 1);
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

describe('warm pool: size and termination (API_PutWarmPool, API_DeleteWarmPool)', () => {
  it('the size is max(MinSize, MaxGroupPreparedCapacity - desired), the capacity -1 meaning the group max: not absolute unless it equals MinSize', async () => {
    const cloud = pooledCloud(8, 1);
    continueLaunches(cloud);
    // tripod puts MaxGroupPreparedCapacity = MinSize (cloud.ts, as provision/warm-pool.ts): 1 whatever the max
    expect(cloud.group.opts.warmPool?.maxGroupPreparedCapacity).toBe(1);
    cloud.group.opts.max = 6;
    await runFor(cloud, 8 * MIN);
    expect(cloud.group.poolSize()).toBe(1);
    expect(poolStates(cloud)).toEqual(['Warmed:Stopped']);
    // -1 (the group's max size): the pool is max - desired, like a restore's min = desired = 1 under max M
    (cloud.group.opts.warmPool as { maxGroupPreparedCapacity?: number }).maxGroupPreparedCapacity = -1;
    expect(cloud.group.poolSize()).toBe(3);
    await runFor(cloud, 8 * MIN);
    expect(poolStates(cloud)).toEqual(['Warmed:Stopped', 'Warmed:Stopped', 'Warmed:Stopped']);
    // a capacity below desired: MinSize still holds
    (cloud.group.opts.warmPool as { maxGroupPreparedCapacity?: number }).maxGroupPreparedCapacity = 2;
    expect(cloud.group.poolSize()).toBe(1);
  });

  it('a pool instance leaving the pool waits in Warmed:Terminating:Wait on the terminating hook: until completed, or its heartbeat timeout', async () => {
    const cloud = pooledCloud(9, 2);
    continueLaunches(cloud);
    await runFor(cloud, 8 * MIN);
    const [a, b] = [...cloud.group.pool.values()].map((m) => m.id);
    cloud.group.deleteWarmPool(false);
    expect(cloud.group.warmPoolStatus()).toBe('PendingDelete');
    expect(poolStates(cloud)).toEqual(['Warmed:Terminating:Wait', 'Warmed:Terminating:Wait']);
    expect(cloud.group.targetLifecycleState(a!)).toBe('Warmed:Terminated');
    // the terminating hook is the one that completes it (not the launching one)
    expect(() => cloud.group.completeLifecycleAction(a!, 'launching', 'CONTINUE')).toThrow(
      /No active Lifecycle Action/,
    );
    cloud.group.completeLifecycleAction(a!, 'terminating', 'CONTINUE');
    await runFor(cloud, 9 * MIN);
    // a: completed, gone in seconds; b: nobody answered, still waiting before its 600 s heartbeat timeout
    expect(cloud.group.pool.has(a!)).toBe(false);
    expect(cloud.ec2.get(a!)?.state).toBe('terminated');
    expect(cloud.group.pool.get(b!)?.lifecycle).toBe('Warmed:Terminating:Wait');
    expect(cloud.group.warmPoolStatus()).toBe('PendingDelete');
    await runFor(cloud, 2 * MIN);
    expect(cloud.group.pool.size).toBe(0);
    expect(cloud.group.warmPoolStatus()).toBeUndefined();
    expect(cloud.group.stats.hookTimeouts).toBe(1);
  });

  it('ForceDelete terminates the pool instances at once, dropping their lifecycle actions', async () => {
    const cloud = pooledCloud(10, 2);
    continueLaunches(cloud);
    await runFor(cloud, 8 * MIN);
    cloud.group.deleteWarmPool(true);
    await runFor(cloud, 10_000);
    expect(cloud.group.pool.size).toBe(0);
    expect(cloud.group.warmPoolStatus()).toBeUndefined();
    expect(cloud.group.stats.hookTimeouts).toBe(0);
  });

  it('with the reconciler, a deleted pool is gone in a pass or two, not after the hook heartbeat timeout (600 s)', async () => {
    const cloud = pooledCloud(11, 2);
    new ReconcilerLambda(cloud, reconcilePass);
    await runFor(cloud, 15 * MIN);
    expect(poolStates(cloud)).toEqual(['Warmed:Stopped', 'Warmed:Stopped']);
    const at = cloud.k.now();
    cloud.group.deleteWarmPool(false);
    await cloud.k.runUntil(at + 10 * MIN, () => cloud.group.warmPoolStatus() === undefined);
    expect(cloud.group.warmPoolStatus()).toBeUndefined();
    expect(cloud.k.now() - at).toBeLessThan(2 * MIN);
    expect(cloud.group.stats.hookTimeouts).toBe(0);
  });
});

describe('warm pool: Warmed:Stopped follows EC2 (warm-pool-instance-lifecycle)', () => {
  it('a prepared instance stays Warmed:Pending:Proceed while EC2 stops it, and is Warmed:Stopped only once EC2 says stopped', async () => {
    const cloud = pooledCloud(12, 3);
    continueLaunches(cloud);
    const seen = new Set<string>();
    const wrong: string[] = [];
    cloud.k.afterEvent = () => {
      for (const m of cloud.group.pool.values()) {
        const ec2 = cloud.ec2.get(m.id)?.state ?? 'gone';
        seen.add(`${m.lifecycle} ${ec2}`);
        if (m.lifecycle === 'Warmed:Stopped' && ec2 !== 'stopped')
          wrong.push(`${m.id} Warmed:Stopped, EC2 ${ec2}`);
      }
    };
    await runFor(cloud, 8 * MIN);
    expect(wrong).toEqual([]);
    // the window exists: proceeding while EC2 is still stopping
    expect(seen).toContain('Warmed:Pending:Proceed stopping');
    expect(poolStates(cloud)).toEqual(['Warmed:Stopped', 'Warmed:Stopped', 'Warmed:Stopped']);
  });

  it('the group does not take an instance still stopping (not yet ready): it launches fresh, and the pool instance still reaches Warmed:Stopped', async () => {
    const cloud = pooledCloud(13, 1);
    continueLaunches(cloud);
    const stopping = () =>
      [...cloud.group.pool.values()].find(
        (m) => m.lifecycle === 'Warmed:Pending:Proceed' && cloud.ec2.get(m.id)?.state === 'stopping',
      );
    await cloud.k.runUntil(cloud.k.now() + 10 * MIN, () => stopping() !== undefined);
    const pooled = stopping()!;
    expect(pooled).toBeDefined();
    // lose the master of the pool instance's zone while it is stopping
    const victim = [...cloud.group.members.values()].find((m) => m.zone === pooled.zone)!;
    const cold = cloud.group.stats.coldStarts;
    cloud.ec2.terminate(victim.id);
    await cloud.k.runUntil(cloud.k.now() + 2 * MIN, () => cloud.group.stats.coldStarts > cold);
    expect(cloud.group.stats).toMatchObject({ warmStarts: 0, coldStarts: cold + 1 });
    expect(cloud.group.members.has(pooled.id)).toBe(false);
    await runFor(cloud, 2 * MIN);
    expect(cloud.group.pool.get(pooled.id)?.lifecycle).toBe('Warmed:Stopped');
    expect(cloud.ec2.get(pooled.id)?.state).toBe('stopped');
  });
});

describe('warm pool: the reconciler reads it only when the configuration says there is one', () => {
  it("the simulated configuration says so as the provisioner's does, and the fleet port leaves the pool out when told", async () => {
    expect(new SimCloud({ seed: 14, zones: zoneNames(3), masters: 3 }).config.masterWarmPool).toBe(false);
    const cloud = pooledCloud(14, 2);
    expect(cloud.config.masterWarmPool).toBe(true);
    await runFor(cloud, 60_000);
    const ports = cloud.ports({ crashAfter: undefined, mutations: 0, dead: false, onCrash: () => {} });
    const read = async (warmPool: boolean | undefined) => {
      const p = ports.fleet.describeGroup(cloud.config.masterGroupName, { warmPool });
      await runFor(cloud, 1_000);
      return (await p).instances.filter((i) => i.lifecycleState.startsWith('Warmed:')).length;
    };
    expect(await read(undefined)).toBe(2);
    expect(await read(true)).toBe(2);
    expect(await read(false)).toBe(0);
  });

  it('without lifecycle hooks, a pool instance that leaves the pool while it prepares is not prepared again', async () => {
    const k = new Kernel(7);
    const zones = new Zones(zoneNames(3));
    const ec2 = new Ec2(k, zones, [1_000, 1_000]);
    const group = new AutoScalingGroup(k, ec2, zones, new EventBus(k), {
      name: 'g',
      desired: 0,
      min: 0,
      max: 3,
      hookHeartbeatMs: undefined,
      launchDefaultResult: 'CONTINUE',
      terminateDefaultResult: 'CONTINUE',
      targetGroups: [],
      impairedGraceMs: 60_000,
      tickMs: 10_000,
      warmPool: { size: 1, state: 'Stopped', maxGroupPreparedCapacity: 1 },
    });
    await k.runUntil(k.now() + 100);
    const [m] = [...group.pool.values()];
    expect(m?.lifecycle).toBe('Warmed:Pending');
    group.deleteWarmPool(false);
    await k.runUntil(k.now() + 1_500);
    // Its preparation (the 1 s without a hook) must not bring it back from Warmed:Terminating.
    expect(m?.lifecycle).toBe('Warmed:Terminating');
    await k.runUntil(k.now() + 5_000);
    expect(group.pool.size).toBe(0);
    expect(group.warmPoolStatus()).toBeUndefined();
  });
});
