/**
 * The invariant checker's own bookkeeping (src/sim/invariants.ts): what it remembers between two
 * events must follow the cloud, or a violation goes unseen.
 */
import { describe, expect, it } from 'vitest';
import { SimCloud } from '../../src/sim/cloud.js';
import { InvariantChecker } from '../../src/sim/invariants.js';

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
