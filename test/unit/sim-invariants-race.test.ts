/**
 * The invariant checker's request-time quorum check (src/sim/invariants.ts) against a world that
 * changed under the pass that made the request. Found with `simulate --seed 430 --masters 7
 * --warm-pool 0` on an earlier tree: a pass observed, 47 ms later a partition cut the leader's zone
 * off, and the promote it then sent (timed out: no leader for that member; etcd never carried it
 * out) was reported as "promoting ... leaves 3 healthy of 6 voters". Such a request is judged when
 * etcd carries it out; on a world that did not change since its pass started it still violates at
 * once, whether or not etcd refuses it.
 */
import { describe, expect, it } from 'vitest';
import type { HealPorts } from '../../src/heal/ports.js';
import { SimCloud } from '../../src/sim/cloud.js';
import type { SimInstance } from '../../src/sim/ec2.js';
import type { MembershipRequest } from '../../src/sim/etcd-model.js';
import { InvariantChecker } from '../../src/sim/invariants.js';
import { ReconcilerLambda } from '../../src/sim/lambda.js';
import { zoneNames } from '../../src/sim/run.js';

const [A, B, C] = zoneNames(3) as [string, string, string];
const ep = (i: SimInstance) => `https://${i.ip}:2379`;
const peer = (i: SimInstance) => `https://${i.ip}:2380`;

/**
 * Five voters, three of them with the leader in zone a, one each in b and c, and a started,
 * caught-up learner in b; instances of no group (no node, nothing replaces them). The reconciler is
 * `script` when armed (a pass of the simulated Lambda), and does nothing otherwise.
 */
async function world(seed: number) {
  const cloud = new SimCloud({ seed, zones: zoneNames(3), masters: 3 });
  const { k, ec2, etcd } = cloud;
  const checker = new InvariantChecker(cloud);
  k.afterEvent = () => checker.check();
  let script: ((ports: HealPorts) => Promise<void>) | undefined;
  let done = false;
  const lambda = new ReconcilerLambda(cloud, async (ports) => {
    const run = script;
    script = undefined;
    if (!run) return undefined;
    await run(ports);
    done = true;
    return undefined;
  });
  const [a1, a2, a3, b1, c1, learner] = [A, A, A, B, C, B].map((z) => ec2.launch(z, 'by-hand')) as [
    SimInstance,
    SimInstance,
    SimInstance,
    SimInstance,
    SimInstance,
    SimInstance,
  ];
  await k.runUntil(k.now() + 60_000);
  expect(etcd.startMember(a1.ip, { name: 'a1', initialCluster: '', initialClusterState: 'new' })).toBe(
    undefined,
  );
  const join = async (i: SimInstance, name: string) => {
    const { member } = await etcd.port.addLearner(ep(a1), peer(i));
    etcd.startMember(i.ip, {
      name,
      initialCluster: '',
      initialClusterState: 'existing',
      memberId: member.id,
    });
    await k.runUntil(k.now() + 15_000);
    return member.id;
  };
  for (const [i, name] of [
    [a2, 'a2'],
    [a3, 'a3'],
    [b1, 'b1'],
    [c1, 'c1'],
  ] as const) {
    await etcd.port.promoteMember(ep(a1), await join(i, name));
  }
  const learnerId = await join(learner, 'learner');
  expect(etcd.leaderId).toBe(etcd.memberByPeerIp(a1.ip)?.id);
  expect(etcd.healthyVoters()).toHaveLength(5);
  expect(etcd.memberByPeerIp(learner.ip)?.connectedSince).toBeDefined();
  expect(checker.violations).toEqual([]);
  /** The leader's zone cut off: the leader keeps quorum (3 of 5) there; b, c and the learner lose it. */
  const partitionA = () => {
    k.log('fault', `partition: ${A} cut off from the other zones`);
    cloud.zones.partition(A);
    cloud.networkChanged();
  };
  /** Runs `s` as the next pass, to its end. */
  const pass = async (s: (ports: HealPorts) => Promise<void>) => {
    script = s;
    done = false;
    lambda.trigger();
    await k.runUntil(k.now() + 120_000, () => done);
    expect(done).toBe(true);
  };
  return { cloud, checker, b1, learnerId, partitionA, pass };
}

describe('a membership request made on an observation older than a fault', () => {
  it('a promote sent after a partition the pass did not see, which etcd does not carry out, is no violation', async () => {
    const w = await world(430);
    let error = '';
    await w.pass(async (ports) => {
      // The pass observes: every voter healthy, the learner caught up.
      const status = await ports.etcd.status(ep(w.b1));
      expect(status.errors).toBeUndefined();
      // 47 ms later the leader's zone is cut off; the pass goes on with what it saw.
      w.cloud.k.after(47, w.partitionA);
      await w.cloud.k.sleep(200);
      await ports.etcd.promoteMember(ep(w.b1), w.learnerId).catch((e: Error) => {
        error = e.message;
      });
    });
    // etcd refused it (b1 has no leader now): nothing happened to the cluster.
    expect(error).toBe('etcdserver: request timed out');
    expect(w.cloud.etcd.members.get(w.learnerId)?.isLearner).toBe(true);
    expect(w.checker.violations).toEqual([]);
    expect(w.cloud.k.timelineText()).toMatch(
      /promoting \d+ leaves 3 healthy of 6 voters: the world changed at .*, after its pass started .*; judged again if etcd carries it out/,
    );
  });

  it('the same request, had etcd carried it out, violates then', async () => {
    const w = await world(430);
    await w.pass(async (ports) => {
      await ports.etcd.status(ep(w.b1));
      w.cloud.k.after(47, w.partitionA);
      await w.cloud.k.sleep(200);
      // What the checker hears from an etcd that would carry it out: the request, then its execution.
      const r: MembershipRequest = { kind: 'promote', memberId: w.learnerId };
      w.cloud.etcd.onRequest(r);
      expect(w.checker.violations).toEqual([]);
      w.cloud.etcd.onExecuted(r);
    });
    expect(w.checker.violations).toEqual([
      expect.objectContaining({
        rule: 'quorum',
        detail: `promoting ${w.learnerId} leaves 3 healthy of 6 voters, and etcd carried it out`,
      }),
    ]);
  });
});

describe('the new invariants catch what they name', () => {
  it('an unsafe promote on a world that did not change since its pass started violates at once, though etcd refuses it', async () => {
    const w = await world(431);
    // The partition comes first; the pass that starts after it sees it (or should have).
    w.partitionA();
    await w.cloud.k.runUntil(w.cloud.k.now() + 10_000);
    let error = '';
    await w.pass(async (ports) => {
      await ports.etcd.promoteMember(ep(w.b1), w.learnerId).catch((e: Error) => {
        error = e.message;
      });
    });
    expect(error).toBe('etcdserver: request timed out');
    expect(w.checker.violations).toEqual([
      expect.objectContaining({
        rule: 'quorum',
        detail: `promoting ${w.learnerId} leaves 3 healthy of 6 voters`,
      }),
    ]);
  });

  it('an unsafe remove on an unchanged world violates at once (and is refused by etcd)', async () => {
    const w = await world(432);
    w.partitionA();
    await w.cloud.k.runUntil(w.cloud.k.now() + 10_000);
    const etcd = w.cloud.etcd;
    const healthy = etcd.healthyVoters().find((v) => v.id !== etcd.leaderId);
    if (!healthy) throw new Error('no healthy follower');
    let error = '';
    await w.pass(async (ports) => {
      // Through b1, which the reconciler reaches (zone a it does not): etcd finds no leader there.
      await ports.etcd.removeMember(ep(w.b1), healthy.id).catch((e: Error) => {
        error = e.message;
      });
    });
    expect(error).toBe('etcdserver: request timed out');
    expect(w.checker.violations.map((v) => v.rule)).toContain('quorum');
    expect(w.checker.violations.find((v) => v.rule === 'quorum')?.detail).toBe(
      `removing ${healthy.id} (${healthy.name}) leaves 2 healthy of 4 voters (quorum 3)`,
    );
  });
});
