/**
 * The invariant checker's own bookkeeping (src/sim/invariants.ts): what it remembers between two
 * events must follow the cloud, or a violation goes unseen.
 */
import { describe, expect, it } from 'vitest';
import { reconcilePass } from '../../src/heal/reconcile.js';
import { SimCloud } from '../../src/sim/cloud.js';
import { InvariantChecker } from '../../src/sim/invariants.js';
import { ReconcilerLambda } from '../../src/sim/lambda.js';

const zones = ['eu-west-1a', 'eu-west-1b', 'eu-west-1c'];
const ep = (ip: string) => `https://${ip}:2379`;
const peer = (ip: string) => `https://${ip}:2380`;

describe('invariant checker', () => {
  it('watches an instance launched after its first check: a voter left on it, gone a minute, is caught by remove-dead-first', async () => {
    const cloud = new SimCloud({ seed: 3, zones, masters: 3 });
    const k = cloud.k;
    const checker = new InvariantChecker(cloud);
    k.afterEvent = () => checker.check();
    await k.runUntil(k.now() + 60_000);
    // A one-member cluster on one of the group's masters.
    const [a] = [...cloud.ec2.instances.values()];
    if (!a) throw new Error('the group launched nothing');
    expect(cloud.etcd.startMember(a.ip, { name: 'a', initialCluster: '', initialClusterState: 'new' })).toBe(
      undefined,
    );
    // An instance the checker has not seen yet (outside the group: gone from its first check on).
    const late = cloud.ec2.launch('eu-west-1c', 'outside-the-group');
    await k.runUntil(k.now() + 45_000);
    expect(late.state).toBe('running');
    const { member } = await cloud.etcd.port.addLearner(ep(a.ip), peer(late.ip));
    cloud.etcd.startMember(late.ip, {
      name: 'late',
      initialCluster: '',
      initialClusterState: 'existing',
      memberId: member.id,
    });
    await k.runUntil(k.now() + 15_000);
    await cloud.etcd.port.promoteMember(ep(a.ip), member.id);
    // Its voter is cut off (not healthy), and its instance has been gone for over a minute.
    cloud.faults.peerCut.add(late.ip);
    cloud.networkChanged();
    await k.runUntil(k.now() + 70_000);
    expect(checker.violations.map((v) => v.rule)).not.toContain('remove-dead-first');
    await cloud.etcd.port.addLearner(ep(a.ip), peer('10.2.0.99')).catch(() => {});
    expect(checker.violations.filter((v) => v.rule === 'remove-dead-first')).toEqual([
      expect.objectContaining({ detail: expect.stringContaining(`voter ${member.id} (late)`) }),
    ]);
  });
});

describe('invariant checker: the warm pool', () => {
  it('an instance in the warm pool is not gone: a voter on a master that left the pool, cut off for a minute, is no dead voter for remove-dead-first', async () => {
    const cloud = new SimCloud({ seed: 5, zones, masters: 3, warmPool: { size: 1, state: 'Stopped' } });
    const k = cloud.k;
    const checker = new InvariantChecker(cloud);
    k.afterEvent = () => checker.check();
    new ReconcilerLambda(cloud, reconcilePass);
    const pooled = () => [...cloud.group.pool.values()].find((m) => m.lifecycle === 'Warmed:Stopped');
    await k.runUntil(k.now() + 30 * 60_000, () => cloud.etcd.healthyVoters().length === 3 && !!pooled());
    const warm = pooled();
    if (!warm) throw new Error('the pool never got ready');
    // A master dies: the pool's instance replaces it and joins etcd as a voter.
    const [victim] = [...cloud.group.members.keys()];
    cloud.faults.killed.add(victim as string);
    cloud.ec2.terminate(victim as string);
    cloud.networkChanged();
    const ip = cloud.ec2.get(warm.id)?.ip as string;
    const voterOnIt = () => cloud.etcd.voters().find((v) => v.ip === ip && v.started);
    const inService = () => cloud.group.members.get(warm.id)?.lifecycle === 'InService';
    await k.runUntil(k.now() + 30 * 60_000, () => inService() && cloud.etcd.healthyVoters().length === 3);
    expect(voterOnIt()).toBeDefined();
    // Cut off from its peers for over a minute (not healthy), its instance alive and InService.
    cloud.faults.peerCut.add(ip);
    cloud.networkChanged();
    await k.runUntil(k.now() + 70_000);
    cloud.etcd.onRequest({ kind: 'add-learner', peerURL: peer('10.0.30.9') });
    expect(checker.violations.map((v) => `${v.rule}: ${v.detail}`)).toEqual([]);
  });
});
