/** The etcd model follows etcd 3.5's membership rules (../shared/reference/etcd-membership.md; MemberAdd: a quorum of the grown cluster connected). */
import { describe, expect, it } from 'vitest';
import { EtcdError } from '../../src/heal/ports.js';
import { EtcdModel } from '../../src/sim/etcd-model.js';
import { Kernel } from '../../src/sim/kernel.js';

const ep = (ip: string) => `https://${ip}:2379`;
const peer = (ip: string) => `https://${ip}:2380`;

function cluster(seed = 1) {
  const k = new Kernel(seed);
  const down = new Set<string>();
  const cut = new Set<string>();
  /** Sides of a partition that is not transitive: side 1 and side 2 miss each other, both reach side 0. */
  const side = new Map<string, 1 | 2>();
  const reach = (a: string, b: string) =>
    !down.has(a) &&
    !down.has(b) &&
    (a === b ||
      (!cut.has(a) && !cut.has(b) && (side.get(a) ?? side.get(b)) === (side.get(b) ?? side.get(a))));
  const etcd = new EtcdModel(k, {
    reach,
    reconcilerReach: (ip) => !down.has(ip) && !cut.has(ip),
    hostAlive: (ip) => !down.has(ip),
  });
  const wait = (ms: number) => k.runUntil(k.now() + ms);
  const net = (fn: () => void) => {
    fn();
    etcd.refresh();
  };
  /** Add `ip` as a learner, start it, wait until in sync, promote it. */
  const grow = async (via: string, ip: string) => {
    const { member } = await etcd.port.addLearner(ep(via), peer(ip));
    expect(
      etcd.startMember(ip, {
        name: `m-${ip}`,
        initialCluster: '',
        initialClusterState: 'existing',
        memberId: member.id,
      }),
    ).toBeUndefined();
    await wait(15_000);
    await etcd.port.promoteMember(ep(via), member.id);
    await wait(6_000);
    return member.id;
  };
  return { k, etcd, down, cut, side, reach, wait, net, grow };
}

async function three() {
  const c = cluster();
  c.etcd.startMember('10.1.0.1', { name: 'a', initialCluster: '', initialClusterState: 'new' });
  await c.wait(10_000);
  await c.grow('10.1.0.1', '10.2.0.1');
  await c.grow('10.1.0.1', '10.3.0.1');
  return c;
}

async function failure(p: Promise<unknown>): Promise<EtcdError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof EtcdError) return e;
    throw e;
  }
  throw new Error('expected an EtcdError');
}

describe('etcd model', () => {
  it('seeds a cluster, adds a learner that is promoted only once in sync', async () => {
    const { etcd, wait } = cluster();
    etcd.startMember('10.1.0.1', { name: 'a', initialCluster: '', initialClusterState: 'new' });
    await wait(60_000);
    const { member, members } = await etcd.port.addLearner(ep('10.1.0.1'), peer('10.2.0.1'));
    expect(member).toMatchObject({ isLearner: true, name: '', clientURLs: [] });
    expect(members).toHaveLength(2);
    const e = await failure(etcd.port.promoteMember(ep('10.1.0.1'), member.id));
    expect(e).toMatchObject({
      kind: 'precondition',
      grpcCode: 9,
      message: 'etcdserver: can only promote a learner member which is in sync with leader',
    });
    etcd.startMember('10.2.0.1', {
      name: 'b',
      initialCluster: '',
      initialClusterState: 'existing',
      memberId: member.id,
    });
    await wait(15_000);
    const s = await etcd.port.status(ep('10.2.0.1'));
    expect(s.isLearner).toBe(true);
    expect(s.raftIndex).toBeGreaterThan(500);
    await etcd.port.promoteMember(ep('10.1.0.1'), member.id);
    expect((await etcd.port.listMembers(ep('10.1.0.1'))).every((m) => !m.isLearner)).toBe(true);
  });

  it('allows one learner at a time and refuses a duplicate peer URL', async () => {
    const { etcd } = await three();
    await etcd.port.addLearner(ep('10.1.0.1'), peer('10.1.0.2'));
    expect(await failure(etcd.port.addLearner(ep('10.1.0.1'), peer('10.1.0.2')))).toMatchObject({
      kind: 'precondition',
      message: 'etcdserver: Peer URLs already exists',
    });
    expect(await failure(etcd.port.addLearner(ep('10.1.0.1'), peer('10.2.0.2')))).toMatchObject({
      kind: 'precondition',
      message: 'etcdserver: too many learner members in cluster',
    });
  });

  it('refuses MemberAdd (even of a learner) while a voter is unreachable, until the dead one is removed', async () => {
    const { etcd, net, down, wait } = await three();
    net(() => down.add('10.3.0.1'));
    await wait(5_000);
    expect(await failure(etcd.port.addLearner(ep('10.1.0.1'), peer('10.3.0.2')))).toMatchObject({
      kind: 'unavailable',
      grpcCode: 14,
      message: 'etcdserver: unhealthy cluster',
    });
    const dead = etcd.memberByPeerIp('10.3.0.1')?.id as string;
    await etcd.port.removeMember(ep('10.1.0.1'), dead);
    await etcd.port.addLearner(ep('10.1.0.1'), peer('10.3.0.2'));
    expect(await failure(etcd.port.removeMember(ep('10.1.0.1'), dead))).toMatchObject({
      kind: 'not-found',
      grpcCode: 5,
    });
  });

  it('refuses to remove a healthy voter when that would leave too few connected voters', async () => {
    const { etcd, net, down, wait } = await three();
    net(() => down.add('10.3.0.1'));
    await wait(5_000);
    const b = etcd.memberByPeerIp('10.2.0.1')?.id as string;
    expect(await failure(etcd.port.removeMember(ep('10.1.0.1'), b))).toMatchObject({
      kind: 'unavailable',
      message: 'etcdserver: unhealthy cluster',
    });
  });

  it('moves leadership only from the leader and only to a voter; removing the leader elects another', async () => {
    const { etcd, wait } = await three();
    const leader = etcd.leaderId as string;
    const leaderIp = etcd.members.get(leader)?.ip as string;
    const others = [...etcd.members.values()].filter((m) => m.id !== leader);
    const other = others[0];
    if (!other) throw new Error('no follower');
    expect(await failure(etcd.port.moveLeader(ep(other.ip), leader))).toMatchObject({
      kind: 'precondition',
      message: 'etcdserver: not leader',
    });
    const { member: learner } = await etcd.port.addLearner(ep(leaderIp), peer('10.1.0.9'));
    expect(await failure(etcd.port.moveLeader(ep(leaderIp), learner.id))).toMatchObject({
      kind: 'precondition',
      message: 'etcdserver: bad leader transferee',
    });
    await etcd.port.removeMember(ep(leaderIp), learner.id);
    await etcd.port.moveLeader(ep(leaderIp), other.id);
    expect(etcd.leaderId).toBe(other.id);
    await etcd.port.removeMember(ep(leaderIp), other.id);
    expect(etcd.leaderId).toBeUndefined();
    expect((await etcd.port.status(ep(leaderIp))).errors).toEqual(['etcdserver: no leader']);
    await wait(4_000);
    expect(etcd.leaderId).toBeDefined();
    expect(etcd.voters()).toHaveLength(2);
  });

  it('a leader whose process dies is still named by the others until their election timeout, then none, then a new one', async () => {
    const { etcd, wait } = await three();
    const dead = etcd.leaderId as string;
    const follower = [...etcd.members.values()].find((m) => m.id !== dead)!;
    etcd.crash(etcd.members.get(dead)!.ip);
    // etcd: a follower keeps its leader until its own election timeout fires (1-2 s here)
    const first = await etcd.port.status(ep(follower.ip));
    expect(first.leaderId).toBe(dead);
    expect(first.errors).toBeUndefined();
    await wait(2_000);
    const next = await etcd.port.status(ep(follower.ip));
    expect(next.leaderId === dead).toBe(false);
    await wait(4_000);
    expect(etcd.leaderId).toBeDefined();
    expect(etcd.leaderId).not.toBe(dead);
  });

  it('a partitioned member loses the leader; the majority elects one; calls through the minority time out', async () => {
    const { etcd, net, cut, wait } = await three();
    const leader = etcd.members.get(etcd.leaderId as string);
    if (!leader) throw new Error('no leader');
    const before = etcd.indexOf(leader);
    net(() => cut.add(leader.ip));
    await wait(4_000);
    expect(etcd.leaderId).toBeDefined();
    expect(etcd.leaderId).not.toBe(leader.id);
    expect(etcd.healthyVoters()).toHaveLength(2);
    // The cut-off member's raft index is frozen while the majority moves on.
    await wait(10_000);
    expect(etcd.indexOf(leader)).toBeLessThan(etcd.commitIndex());
    expect(etcd.indexOf(leader)).toBeGreaterThanOrEqual(before);
    // Unreachable from the reconciler too: the client times out.
    expect(await failure(etcd.port.status(ep(leader.ip)))).toMatchObject({ kind: 'timeout' });
    net(() => cut.delete(leader.ip));
    await wait(4_000);
    expect(etcd.healthyVoters()).toHaveLength(3);
  });

  it('loses quorum with two of three voters down: no leader, membership calls time out; a restart brings it back', async () => {
    const { etcd, net, down, wait } = await three();
    net(() => {
      down.add('10.2.0.1');
      down.add('10.3.0.1');
    });
    await wait(10_000);
    expect(etcd.leaderId).toBeUndefined();
    expect(await failure(etcd.port.addLearner(ep('10.1.0.1'), peer('10.1.0.5')))).toMatchObject({
      kind: 'timeout',
      message: 'etcdserver: request timed out',
    });
    net(() => down.delete('10.2.0.1'));
    await wait(4_000);
    expect(etcd.leaderId).toBeDefined();
  });

  it('serves only status to a learner, and refuses connections to a stopped process', async () => {
    const { etcd, wait } = await three();
    await etcd.port.addLearner(ep('10.1.0.1'), peer('10.1.0.7'));
    expect(await failure(etcd.port.listMembers(ep('10.1.0.7')))).toMatchObject({ kind: 'unavailable' });
    etcd.startMember('10.1.0.7', { name: 'l', initialCluster: '', initialClusterState: 'existing' });
    await wait(1_000);
    expect(await failure(etcd.port.listMembers(ep('10.1.0.7')))).toMatchObject({
      message: 'etcdserver: rpc not supported for learner',
    });
    expect((await etcd.port.status(ep('10.1.0.7'))).isLearner).toBe(true);
    etcd.crash('10.2.0.1');
    expect(await failure(etcd.port.status(ep('10.2.0.1')))).toMatchObject({
      kind: 'unavailable',
      message: 'connect ECONNREFUSED 10.2.0.1:2379',
    });
    expect(etcd.restart('10.2.0.1')).toBeUndefined();
    expect((await etcd.port.status(ep('10.2.0.1'))).isLearner).toBe(false);
  });

  it('has quorum exactly when a running voter reaches a majority of the voters (every crash/down/cut/partition mix of five)', async () => {
    const c = await three();
    await c.grow('10.1.0.1', '10.4.0.1');
    await c.grow('10.1.0.1', '10.5.0.1');
    await c.etcd.port.addLearner(ep('10.1.0.1'), peer('10.6.0.1'));
    c.etcd.startMember('10.6.0.1', { name: 'l', initialCluster: '', initialClusterState: 'existing' });
    const voters = c.etcd.voters();
    expect(voters).toHaveLength(5);
    const ips = voters.map((v) => v.ip);
    // What etcd needs to elect a leader, straight from the definition: some voter whose process runs
    // on a live host, linked to running voters (itself included) that make a majority of all voters.
    const expected = () => {
      const up = voters.filter((v) => v.running && v.started && !c.down.has(v.ip));
      return up.some((v) => up.filter((w) => v === w || c.reach(v.ip, w.ip)).length >= 3);
    };
    const states = ['ok', 'down', 'cut', 'crashed', 'side 1', 'side 2'] as const;
    let withQuorum = 0;
    for (let mix = 0; mix < states.length ** ips.length; mix++) {
      c.down.clear();
      c.cut.clear();
      c.side.clear();
      ips.forEach((ip, i) => {
        const state = states[Math.floor(mix / states.length ** i) % states.length];
        if (state === 'down') c.down.add(ip);
        else if (state === 'cut') c.cut.add(ip);
        else if (state === 'side 1') c.side.set(ip, 1);
        else if (state === 'side 2') c.side.set(ip, 2);
        if (state === 'crashed') c.etcd.crash(ip);
        else c.etcd.restart(ip);
      });
      const want = expected();
      if (c.etcd.hasQuorum() !== want) throw new Error(`mix ${mix}: hasQuorum should be ${want}`);
      if (want) withQuorum++;
    }
    // Both answers occur many times (the mixes are not all one-sided).
    expect(withQuorum).toBeGreaterThan(1_000);
    expect(states.length ** ips.length - withQuorum).toBeGreaterThan(1_000);
  });

  it('refuses to seed a second cluster over an existing one', async () => {
    const { etcd } = await three();
    expect(
      etcd.startMember('10.2.0.9', { name: 'x', initialCluster: '', initialClusterState: 'new' }),
    ).toMatch(/second cluster/);
    expect(etcd.secondSeed).toBeDefined();
  });
});
