/**
 * The simulator's worker group holds the lifecycle hooks the provisioner declares (asg/workers), its
 * nodes drain as worker.sh does, and the simulated reconciler settles the hooks every pass with
 * heal/worker-hooks.ts, as the Lambda handler does: a worker scaled in or killed leaves through its
 * terminating hook, completed by the node after its drain, or by the reconciler's fallback after the
 * drain deadline when the node died; never by the hook's timeout.
 */
import { describe, expect, it } from 'vitest';
import { reconcilePass } from '../../src/heal/reconcile.js';
import {
  DRAIN_GRACE_MS,
  workerDrainedParameter,
  workerLeavingParameter,
  workersParameterPath,
} from '../../src/heal/worker-hooks.js';
import { desiredCluster } from '../../src/provision/desired.js';
import { type DeclaredHook, declaredHookOptions, type TerminationCause } from '../../src/sim/auto-scaling.js';
import { SimCloud } from '../../src/sim/cloud.js';
import { ReconcilerLambda } from '../../src/sim/lambda.js';
import { zoneNames } from '../../src/sim/run.js';
import { simSpec } from '../../src/sim/sim-spec.js';
import { sessionArn } from '../../src/sim/ssm.js';
import { simWorkerGroup } from '../../src/sim/worker-node.js';

const MIN = 60_000;
const zones = zoneNames(3);

/** The sandbox's world on the etcd model: masters, the declared worker group, the real reconciler (or none). */
function world(seed: number, o: { reconciler?: boolean; drainMs?: readonly [number, number] } = {}) {
  const spec = simSpec({ cluster: 'sim', region: 'eu-west-1', zones, masters: 3 });
  const cloud = new SimCloud({ seed, zones, masters: 3 });
  const { group, nodes } = simWorkerGroup(cloud, spec, desiredCluster(spec).resources, {
    ...(o.drainMs ? { drainMs: o.drainMs } : {}),
  });
  const lambda = o.reconciler === false ? undefined : new ReconcilerLambda(cloud, reconcilePass);
  const left = new Map<string, { cause: TerminationCause; at: number }>();
  const leaving = new Map<string, number>();
  group.onTerminate = (m, cause) => left.set(m.id, { cause, at: cloud.k.now() });
  // When each worker entered Terminating:Wait (the group's tick).
  const watch = () => {
    for (const m of group.members.values())
      if (m.lifecycle === 'Terminating:Wait' && !leaving.has(m.id)) leaving.set(m.id, cloud.k.now());
    cloud.k.after(1_000, watch);
  };
  cloud.k.after(0, watch);
  const runFor = (ms: number) => cloud.k.runUntil(cloud.k.now() + ms);
  const inService = () => [...group.members.values()].filter((m) => m.lifecycle === 'InService');
  return { spec, cloud, group, nodes, lambda, left, leaving, runFor, inService };
}

describe('the worker group holds the lifecycle hooks the provisioner declares', () => {
  it('takes each hook heartbeat timeout and default result from asg/workers', () => {
    const spec = simSpec({ cluster: 'sim', region: 'eu-west-1', zones, masters: 3 });
    spec.reconciler.lifecycleHeartbeatSeconds = 60;
    const cloud = new SimCloud({ seed: 1, zones, masters: 3 });
    const { group } = simWorkerGroup(cloud, spec, desiredCluster(spec).resources);
    // worker-group.ts: launching = the heartbeat; terminating = the drain (max(60 - 60, 60)) + 60 s.
    expect(group.opts).toMatchObject({
      name: cloud.config.workerGroupName,
      hookHeartbeatMs: 60_000,
      terminateHookHeartbeatMs: 120_000,
      launchDefaultResult: 'CONTINUE',
      terminateDefaultResult: 'CONTINUE',
    });
    expect(cloud.workers).toBe(group);
  });

  it('refuses hooks AWS would refuse, and a group with only one of the two', () => {
    const L = 'autoscaling:EC2_INSTANCE_LAUNCHING';
    const T = 'autoscaling:EC2_INSTANCE_TERMINATING';
    const hook = (transition: string, heartbeatTimeout = 600): DeclaredHook => ({
      name: transition === L ? 'on-launch' : 'on-terminate',
      transition,
      heartbeatTimeout,
      defaultResult: 'CONTINUE',
    });
    expect(() => declaredHookOptions('g', [hook(L, 20), hook(T)])).toThrow(
      /group g, lifecycle hook on-launch: heartbeatTimeout 20 s is outside 30-7200 s/,
    );
    expect(() => declaredHookOptions('g', [hook(L), hook(T, 7201)])).toThrow(/outside 30-7200 s/);
    expect(() => declaredHookOptions('g', [hook(L)])).toThrow(/both lifecycle hooks or none/);
    expect(() => declaredHookOptions('g', [hook(L), hook(L), hook(T)])).toThrow(/already hooked/);
    expect(() => declaredHookOptions('g', [hook('autoscaling:EC2_INSTANCE_STOPPING'), hook(T)])).toThrow(
      /neither/,
    );
    expect(declaredHookOptions('g', undefined).hookHeartbeatMs).toBeUndefined();
  });
});

describe('the simulated reconciler settles the worker hooks (heal/worker-hooks.ts)', () => {
  it('continues a launching worker once EC2 says it runs, before the node joined', async () => {
    const w = world(11);
    await w.runFor(12 * MIN);
    expect(w.inService()).toHaveLength(3);
    // The reconciler completed every launch; each node's own completion came later and found none.
    expect(w.lambda?.stats.workerLaunchesContinued).toBe(3);
    expect(w.nodes.stats.joined).toBe(3);
    expect(w.nodes.stats.ownHooksCompleted).toBe(0);
    expect(w.group.stats.hookTimeouts).toBe(0);
  });

  it('a worker scaled in drains, says so with its own session, and completes its hook itself', async () => {
    const w = world(12, { drainMs: [90_000, 90_000] });
    await w.runFor(12 * MIN);
    w.group.opts.desired = 2;
    await w.runFor(6 * MIN);
    expect(w.left.size).toBe(1);
    const [id, end] = [...w.left][0]!;
    expect(end.cause).toEqual({ kind: 'completed', result: 'CONTINUE' });
    expect(w.nodes.nodes.get(id)?.drain).toBe('drained');
    // The drain took its 90 s (plus the watcher's poll and the CLI calls), far from the fallback.
    const waited = end.at - w.leaving.get(id)!;
    expect(waited).toBeGreaterThanOrEqual(90_000);
    expect(waited).toBeLessThan(90_000 + 30_000);
    // The node's signal carries its own session (what the reconciler trusts).
    const writers = w.cloud.ssm.writers(workersParameterPath('sim'));
    expect(writers[workerDrainedParameter('sim', id)]).toBe(sessionArn('tripod-sim-worker', id));
    // The reconciler saw it leave (its record of when) and held the hook meanwhile.
    expect(w.cloud.ssm.get(workerLeavingParameter('sim', id))).toBeDefined();
    expect(w.group.stats.hookTimeouts).toBe(0);
    expect(w.inService()).toHaveLength(2);
  });

  it("a worker that dies in the middle of its drain: the reconciler's fallback completes its hook after the drain deadline, not the hook's timeout", async () => {
    const w = world(13, { drainMs: [120_000, 120_000] });
    await w.runFor(12 * MIN);
    w.nodes.dieWhileDraining();
    w.group.opts.desired = 2;
    await w.runFor(12 * MIN);
    expect(w.left.size).toBe(1);
    const [id, end] = [...w.left][0]!;
    expect(w.nodes.nodes.get(id)?.drain).toBe('died');
    // Not the heartbeat timeout (600 s, default CONTINUE): the reconciler completed it.
    expect(end.cause).toEqual({ kind: 'completed', result: 'CONTINUE' });
    expect(w.group.stats.hookTimeouts).toBe(0);
    expect(w.lambda?.stats.workerTerminationsContinued).toBe(1);
    // No service target groups in the simulator: the deadline is the grace alone, counted from
    // the reconciler's first sight; a pass comes at least every minute.
    const waited = end.at - w.leaving.get(id)!;
    expect(waited).toBeGreaterThanOrEqual(DRAIN_GRACE_MS);
    expect(waited).toBeLessThan(DRAIN_GRACE_MS + 2 * MIN);
    // Its records are forgotten once the hook is completed.
    expect(w.cloud.ssm.getByPath(workersParameterPath('sim'))).toEqual({});
    // The group launched a replacement.
    expect(w.inService()).toHaveLength(2);
  });

  it('a worker killed in service: the group terminates it through its hook, the reconciler completes it after the drain deadline, a replacement joins', async () => {
    const w = world(14);
    await w.runFor(12 * MIN);
    const victim = w.inService()[0]!;
    w.cloud.ec2.terminate(victim.id);
    await w.runFor(12 * MIN);
    const end = w.left.get(victim.id);
    expect(end?.cause).toEqual({ kind: 'completed', result: 'CONTINUE' });
    expect(w.group.stats.hookTimeouts).toBe(0);
    const waited = end!.at - w.leaving.get(victim.id)!;
    expect(waited).toBeGreaterThanOrEqual(DRAIN_GRACE_MS);
    expect(waited).toBeLessThan(DRAIN_GRACE_MS + 2 * MIN);
    expect(w.inService()).toHaveLength(3);
    expect(w.inService().map((m) => m.id)).not.toContain(victim.id);
  });

  it('without the reconciler a dead worker keeps its hook until the heartbeat timeout applies the default result (what the tests above tell apart)', async () => {
    const w = world(13, { reconciler: false, drainMs: [120_000, 120_000] });
    await w.runFor(12 * MIN);
    expect(w.inService()).toHaveLength(3);
    w.nodes.dieWhileDraining();
    w.group.opts.desired = 2;
    await w.runFor(15 * MIN);
    const [id, end] = [...w.left][0]!;
    expect(end.cause).toEqual({
      kind: 'hook-timeout',
      hook: 'terminating',
      result: 'CONTINUE',
      global: false,
    });
    const waited = end.at - w.leaving.get(id)!;
    expect(waited).toBeGreaterThanOrEqual(w.group.opts.terminateHookHeartbeatMs!);
  });
});
