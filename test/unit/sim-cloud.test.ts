/** The simulated cloud models AWS as it documents itself (../shared/reference/aws-behaviour.md). */
import { describe, expect, it } from 'vitest';
import { isNoActiveLifecycleAction } from '../../src/heal/ports.js';
import { ApiFaults, SimAwsError } from '../../src/sim/api-errors.js';
import { SimCloud } from '../../src/sim/cloud.js';
import { TargetGroup } from '../../src/sim/elb.js';
import { EventBus } from '../../src/sim/eventbridge.js';
import { Kernel } from '../../src/sim/kernel.js';
import { Random } from '../../src/sim/random.js';
import { simulate, zoneNames } from '../../src/sim/run.js';
import { simSpec, withWarmPool, worldOf } from '../../src/sim/sim-spec.js';

const MIN = 60_000;
const zones3 = zoneNames(3);

const activeByZone = (cloud: SimCloud) => {
  const counts: Record<string, number> = {};
  for (const z of cloud.zones.names) counts[z] = 0;
  for (const m of cloud.group.active()) counts[m.zone] = (counts[m.zone] ?? 0) + 1;
  return counts;
};

/** A trivial hook handler: completes every waiting lifecycle action CONTINUE every 5 s. */
function completeHooks(cloud: SimCloud, launchingOnly = false, everyMs = 5_000) {
  const loop = () => {
    for (const m of cloud.group.pendingLifecycle()) {
      if (launchingOnly && m.lifecycle !== 'Pending:Wait') continue;
      cloud.group.completeLifecycleAction(
        m.id,
        m.lifecycle === 'Pending:Wait' ? 'launching' : 'terminating',
        'CONTINUE',
      );
    }
    cloud.k.after(everyMs, loop);
  };
  cloud.k.after(everyMs, loop);
}

const runFor = (cloud: SimCloud, ms: number) => cloud.k.runUntil(cloud.k.now() + ms);

describe('Auto Scaling group', () => {
  it('spreads instances evenly over the zones', async () => {
    const three = new SimCloud({ seed: 1, zones: zones3, masters: 3 });
    await runFor(three, 1_000);
    expect(activeByZone(three)).toEqual({ 'eu-west-1a': 1, 'eu-west-1b': 1, 'eu-west-1c': 1 });
    const five = new SimCloud({ seed: 2, zones: zones3, masters: 5 });
    await runFor(five, 1_000);
    expect(Object.values(activeByZone(five)).sort()).toEqual([1, 2, 2]);
  });

  it('holds launches in Pending:Wait and applies the default result ABANDON when the heartbeat times out', async () => {
    const cloud = new SimCloud({ seed: 3, zones: zones3, masters: 3, hookHeartbeatMs: 5 * MIN });
    await runFor(cloud, 1_000);
    const first = [...cloud.group.members.values()];
    expect(first.map((m) => m.lifecycle)).toEqual(['Pending:Wait', 'Pending:Wait', 'Pending:Wait']);
    const kept = first[0]?.id as string;
    await runFor(cloud, 4 * MIN);
    cloud.group.recordHeartbeat(kept, 'launching');
    await runFor(cloud, 2 * MIN);
    // The others timed out and were terminated (ABANDON on launch terminates); the heartbeat kept one waiting.
    expect(cloud.group.members.get(kept)?.lifecycle).toBe('Pending:Wait');
    for (const m of first.slice(1)) {
      expect(cloud.group.members.has(m.id)).toBe(false);
      expect(cloud.ec2.get(m.id)?.state).toBe('terminated');
    }
    expect(cloud.group.stats.hookTimeouts).toBe(2);
    expect(cloud.k.timelineText()).toMatch(/timed out: default ABANDON/);
    // Replacements were launched for them.
    expect(cloud.group.active()).toHaveLength(3);
  });

  it('answers "No active Lifecycle Action" when completing twice, and moves CONTINUE to InService', async () => {
    const cloud = new SimCloud({ seed: 4, zones: zones3, masters: 3, attachTargetGroup: true });
    await runFor(cloud, 1_000);
    const id = [...cloud.group.members.keys()][0] as string;
    cloud.group.completeLifecycleAction(id, 'launching', 'CONTINUE');
    let err: unknown;
    try {
      cloud.group.completeLifecycleAction(id, 'launching', 'CONTINUE');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SimAwsError);
    expect(isNoActiveLifecycleAction(err)).toBe(true);
    await runFor(cloud, 5_000);
    expect(cloud.group.members.get(id)?.lifecycle).toBe('InService');
    // An attached target group gets the instance registered at InService, not before.
    expect(cloud.apiTargets.registered()).toEqual([id]);
  });

  it('holds a terminating instance in Terminating:Wait and terminates it when the hook times out (default CONTINUE)', async () => {
    const cloud = new SimCloud({ seed: 5, zones: zones3, masters: 3, hookHeartbeatMs: 2 * MIN });
    completeHooks(cloud, true);
    await runFor(cloud, MIN);
    const victim = [...cloud.group.members.values()][1];
    if (!victim) throw new Error('no instance');
    expect(victim.lifecycle).toBe('InService');
    cloud.group.terminateInstance(victim.id, 'test');
    expect(victim.lifecycle).toBe('Terminating:Wait');
    expect(cloud.ec2.get(victim.id)?.state).not.toBe('terminated');
    // The group does not wait for it: the replacement launches at once.
    await runFor(cloud, 90_000);
    expect(cloud.group.members.get(victim.id)?.lifecycle).toBe('Terminating:Wait');
    expect(cloud.group.active()).toHaveLength(3);
    await runFor(cloud, 60_000);
    expect(cloud.group.members.has(victim.id)).toBe(false);
    expect(cloud.ec2.get(victim.id)?.state).toBe('terminated');
    expect(cloud.k.timelineText()).toMatch(/lifecycle terminating i-\w+ timed out: default CONTINUE/);
  });

  it('replaces the instances of a failed zone in the healthy zones, then rebalances launch-before-terminate when it recovers', async () => {
    const cloud = new SimCloud({ seed: 6, zones: zones3, masters: 3 });
    // Slower than the group's 10 s loop, so a terminate that does not wait for InService would show.
    completeHooks(cloud, false, 30_000);
    await runFor(cloud, 2 * MIN);
    expect(cloud.group.active().every((m) => m.lifecycle === 'InService')).toBe(true);
    const failed = 'eu-west-1b';
    const lost = cloud.group.active().find((m) => m.zone === failed);
    cloud.zones.fail(failed, cloud.k.now());
    cloud.networkChanged();
    let maxActive = 0;
    let maxMembers = 0;
    const watch = () => {
      maxActive = Math.max(maxActive, cloud.group.active().length);
      maxMembers = Math.max(maxMembers, cloud.group.members.size);
      cloud.k.after(1_000, watch);
    };
    watch();
    await runFor(cloud, 5 * MIN);
    expect(cloud.group.members.has(lost?.id as string)).toBe(false);
    expect(activeByZone(cloud)[failed]).toBe(0);
    expect(cloud.group.active()).toHaveLength(3);
    expect(maxActive).toBe(3);
    // Recovery: the group launches in the recovered zone first, and terminates in the crowded zone after.
    cloud.zones.recover(failed);
    cloud.networkChanged();
    const before = new Set(cloud.group.members.keys());
    await runFor(cloud, 5 * MIN);
    expect(activeByZone(cloud)).toEqual({ 'eu-west-1a': 1, 'eu-west-1b': 1, 'eu-west-1c': 1 });
    expect(maxActive).toBe(4);
    expect(maxActive).toBeLessThanOrEqual(3 + Math.max(1, Math.floor(3 * 0.1)));
    const lines = cloud.k.timeline.map((e) => e.text);
    const launched = lines.findIndex((t) => t.includes(`in ${failed}`) && t.includes('AZ rebalance'));
    const terminated = lines.findIndex((t) => t.includes('AZ rebalance: terminating'));
    expect(launched).toBeGreaterThan(-1);
    const newId = /launch (i-\w+)/.exec(lines[launched] as string)?.[1];
    const inService = lines.indexOf(`${newId} InService`);
    expect(inService).toBeGreaterThan(launched);
    expect(terminated).toBeGreaterThan(inService);
    expect([...before].filter((id) => !cloud.group.members.has(id))).toHaveLength(1);
    expect(cloud.group.stats.rebalances).toBe(1);
  });

  it('replaces an instance marked Unhealthy', async () => {
    const cloud = new SimCloud({ seed: 7, zones: zones3, masters: 3 });
    completeHooks(cloud);
    await runFor(cloud, 2 * MIN);
    const id = [...cloud.group.members.keys()][0] as string;
    cloud.group.setUnhealthy(id);
    await runFor(cloud, MIN);
    expect(cloud.group.members.has(id)).toBe(false);
    expect(cloud.group.active()).toHaveLength(3);
  });
});

describe('EventBridge', () => {
  const deliveries = async (seed: number, setup: (bus: EventBus, k: Kernel) => void, n = 20) => {
    const k = new Kernel(seed);
    const bus = new EventBus(k);
    const got: string[] = [];
    bus.onDeliver = (e) => got.push(e.instanceId);
    setup(bus, k);
    for (let i = 0; i < n; i++)
      bus.emit({ source: 'aws.autoscaling', detailType: 'x', instanceId: `i-${i}` });
    await k.runUntil(k.now() + 3_600_000);
    return { got, bus };
  };

  it('delivers every event once, a little late, when healthy', async () => {
    const { got } = await deliveries(1, () => {});
    expect([...got].sort()).toEqual(Array.from({ length: 20 }, (_, i) => `i-${i}`).sort());
  });

  it('loses events', async () => {
    const { got, bus } = await deliveries(2, (b, k) => b.degrade({ until: k.now() + 60_000, loss: 1 }));
    expect(got).toEqual([]);
    expect(bus.stats.lost).toBe(20);
  });

  it('duplicates and reorders events', async () => {
    const { got, bus } = await deliveries(3, (b, k) =>
      b.degrade({ until: k.now() + 60_000, duplicate: 1, late: 0.5, lateMs: 300_000 }),
    );
    expect(got).toHaveLength(40);
    expect(bus.stats.duplicated).toBe(20);
    const firstSeen = [...new Set(got)];
    expect(firstSeen).not.toEqual(Array.from({ length: 20 }, (_, i) => `i-${i}`));
  });
});

describe('API faults and target health', () => {
  it('throws throttling and 5xx errors shaped like AWS SDK exceptions', () => {
    const f = new ApiFaults(new Random(1));
    f.degrade(1_000, 1);
    const errors: SimAwsError[] = [];
    for (let i = 0; i < 50; i++) {
      try {
        f.check(0, 'ssm', 'put');
      } catch (e) {
        errors.push(e as SimAwsError);
      }
    }
    expect(errors).toHaveLength(50);
    expect(new Set(errors.map((e) => e.name))).toEqual(new Set(['ThrottlingException', 'InternalFailure']));
    expect(errors.find((e) => e.name === 'InternalFailure')?.$metadata.httpStatusCode).toBe(500);
    expect(() => f.check(1_000, 'ssm', 'put')).not.toThrow();
  });

  it('derives target health from the node: initial, healthy, unhealthy, draining, gone', async () => {
    const k = new Kernel(1);
    let healthy = true;
    const tg = new TargetGroup(
      k,
      'arn:tg',
      () => healthy,
      () => false,
      20_000,
      60_000,
    );
    tg.register('i-1');
    expect(tg.describe()).toEqual([{ instanceId: 'i-1', health: 'initial' }]);
    await k.runUntil(k.now() + 30_000);
    expect(tg.describe()[0]?.health).toBe('healthy');
    healthy = false;
    expect(tg.describe()[0]?.health).toBe('unhealthy');
    tg.deregister('i-1');
    expect(tg.describe()[0]?.health).toBe('draining');
    expect(tg.registered()).toEqual([]);
    await k.runUntil(k.now() + 61_000);
    expect(tg.describe()).toEqual([]);
  });
});

describe("the master group's lifecycle hooks, as the provisioner declares them", () => {
  const spec = (heartbeat: number) => {
    const base = simSpec({ cluster: 'hooks', region: 'eu-west-1', zones: zones3, masters: 3 });
    return withWarmPool(
      { ...base, reconciler: { ...base.reconciler, lifecycleHeartbeatSeconds: heartbeat } },
      { size: 0 },
    );
  };

  it("simulating a spec runs its master group with the spec's heartbeat timeout, not the default 600 s", async () => {
    const r = await simulate({ seed: 5, spec: spec(1200), faults: [] });
    expect(r.ok).toBe(true);
    expect(r.timeline).toMatch(/master group lifecycle hooks: heartbeat 1200 s/);
  });

  it('takes heartbeat and default results from the declaration, and refuses what PutLifecycleHook refuses', () => {
    const hooks = worldOf(spec(1200)).masterHooks ?? [];
    const cloud = new SimCloud({ seed: 1, zones: zones3, masters: 3, masterHooks: hooks });
    expect(cloud.group.opts).toMatchObject({
      hookHeartbeatMs: 1_200_000,
      launchDefaultResult: 'ABANDON',
      terminateDefaultResult: 'CONTINUE',
    });
    const short = hooks.map((h) => ({ ...h, heartbeatTimeout: 10 }));
    expect(() => new SimCloud({ seed: 1, zones: zones3, masters: 3, masterHooks: short })).toThrow(
      /heartbeatTimeout 10 s is outside 30-7200 s/,
    );
  });
});
