import { describe, expect, it } from 'vitest';
import { type Action, isMembershipChange } from '../../src/heal/actions.js';
import { decide, WAIT } from '../../src/heal/decide.js';
import {
  deadStatus,
  healthy,
  inst,
  ipOf,
  member,
  state,
  T0,
  testConfig,
  unstartedLearner,
  withState,
} from '../support/fake-ports.js';

const NOW = T0 + 3_600_000;
const cfg = testConfig();
const kinds = (as: Action[]) => as.map((a) => a.kind);
const changes = (as: Action[]) => as.filter(isMembershipChange);
const only = <K extends Action['kind']>(as: Action[], kind: K) =>
  as.filter((a): a is Extract<Action, { kind: K }> => a.kind === kind);
/** Rule 5 for a live leader that leaves: deregistered, leadership moved, member removed, its hook heartbeated. */
const HAND_OVER = ['deregister-target', 'move-leader', 'remove-member', 'heartbeat-lifecycle'];

describe('decide: a converged cluster', () => {
  it('does nothing and says it is converged', () => {
    const d = decide(healthy(3), cfg, NOW);
    expect(d.actions).toEqual([]);
    expect(d.conditions).toMatchObject({
      converged: true,
      voters: 3,
      healthyVoters: 3,
      quorum: 2,
      quorumMargin: 1,
    });
  });
});

describe('decide: the rules of etcd-membership.md', () => {
  it('rule 1: quorum on the target membership: never removes a healthy voter when one is already down', () => {
    const s = healthy(3);
    s.group.instances[0] = withState(s.group.instances[0]!, 'Terminating:Wait'); // i-1 healthy, leaving
    s.etcd.members[2] = member(3, { status: deadStatus }); // i-3 down but its instance lives
    s.etcd.leaderId = 'm2';
    const d = decide(s, cfg, NOW);
    expect(changes(d.actions)).toEqual([]);
    expect(d.waits.join('\n')).toMatch(
      /remove m1 \(i-1\): not safe yet \(would leave 1 healthy of 2 voters, quorum 2/,
    );
    expect(only(d.actions, 'heartbeat-lifecycle')).toMatchObject([
      { instanceId: 'i-1', hook: 'terminating' },
    ]);
  });

  it('rule 1: a learner, an unstarted member and a member with an alarm count as unhealthy', () => {
    const s = healthy(3);
    s.etcd.members[1] = member(2, { status: { alarms: ['NOSPACE'] } });
    s.group.instances[2] = withState(s.group.instances[2]!, 'Terminating:Wait');
    const d = decide(s, cfg, NOW);
    expect(changes(d.actions)).toEqual([]);
    expect(d.conditions.healthyVoters).toBe(2);
  });

  it('rule 2: removes the dead before adding the new', () => {
    const s = healthy(3);
    s.group.instances[2] = withState(s.group.instances[2]!, 'Terminated');
    s.etcd.members[2] = member(3, { status: deadStatus });
    s.group.instances.push(
      inst(4, { lifecycleState: 'Pending:Wait', apiReady: false, launchTime: NOW - 60_000 }),
    );
    const d = decide(s, cfg, NOW);
    expect(changes(d.actions)).toMatchObject([{ kind: 'remove-member', memberId: 'm3' }]);
    // next pass: the dead one is gone, the new one is added
    s.etcd.members.pop();
    s.group.instances.splice(2, 1);
    const d2 = decide(s, cfg, NOW + 1000);
    expect(changes(d2.actions)).toMatchObject([
      { kind: 'add-learner', instanceId: 'i-4', peerURL: `https://${ipOf(4)}:2380` },
    ]);
  });

  it('rule 2: never adds while a voter is down, even with a live instance (strict reconfig)', () => {
    const s = healthy(3);
    s.etcd.members[2] = member(3, { status: deadStatus });
    s.group.instances.push(inst(4, { lifecycleState: 'Pending:Wait', apiReady: false, launchTime: NOW }));
    const d = decide(s, cfg, NOW);
    expect(changes(d.actions)).toEqual([]);
    expect(d.waits.join('\n')).toMatch(/add i-4 as a learner: not safe yet \(1 voter\(s\) unhealthy/);
  });

  it('rule 3: one membership change at a time: at most one learner', () => {
    const s = healthy(3, { memory: { unhealthySince: {}, established: true } });
    s.etcd.members.push(unstartedLearner(4));
    s.group.instances.push(inst(4, { lifecycleState: 'Pending:Wait', apiReady: false, launchTime: NOW }));
    s.group.instances.push(inst(5, { lifecycleState: 'Pending:Wait', apiReady: false, launchTime: NOW }));
    s.joins['i-4'] = { name: 'i-4', initialCluster: 'x', initialClusterState: 'existing', memberId: 'm4' };
    const d = decide(s, testConfig({ expectedMasters: 5 }), NOW);
    expect(changes(d.actions)).toEqual([]);
    expect(d.waits.join('\n')).toMatch(/add i-5 as a learner: not safe yet \(a learner already exists/);
  });

  it('rule 4: joins as a learner and is promoted only once caught up', () => {
    const s = healthy(2);
    s.group.instances.push(inst(3, { lifecycleState: 'Pending:Wait', apiReady: false, launchTime: NOW }));
    expect(changes(decide(s, cfg, NOW).actions)).toMatchObject([{ kind: 'add-learner', instanceId: 'i-3' }]);
    s.etcd.members.push(member(3, { isLearner: true, status: { raftIndex: 10 } }));
    s.joins['i-3'] = { name: 'i-3', initialCluster: 'x', initialClusterState: 'existing', memberId: 'm3' };
    const behind = decide(s, cfg, NOW);
    expect(changes(behind.actions)).toEqual([]);
    expect(behind.waits.join('\n')).toMatch(/learner m3 \(i-3\) to catch up \(990 entries behind\)/);
    s.etcd.members[2] = member(3, { isLearner: true, status: { raftIndex: 950 } });
    expect(changes(decide(s, cfg, NOW).actions)).toMatchObject([{ kind: 'promote-member', memberId: 'm3' }]);
  });

  it('rule 4: early in a cluster (small indexes) a learner within the lag bound waits until it has 90 % of the leader index, as etcd requires', () => {
    const s = healthy(1);
    s.etcd.leaderRaftIndex = 600;
    s.etcd.members[0] = member(1, { status: { raftIndex: 600 } });
    s.group.instances.push(inst(2, { lifecycleState: 'Pending:Wait', apiReady: false, launchTime: NOW }));
    s.etcd.members.push(member(2, { isLearner: true, status: { raftIndex: 520 } })); // lag 80 <= 100, 87 %
    s.joins['i-2'] = { name: 'i-2', initialCluster: 'x', initialClusterState: 'existing', memberId: 'm2' };
    const early = decide(s, cfg, NOW);
    expect(changes(early.actions)).toEqual([]);
    expect(early.waits.join('\n')).toMatch(/learner m2 \(i-2\) to catch up \(80 entries behind\)/);
    s.etcd.members[1] = member(2, { isLearner: true, status: { raftIndex: 540 } }); // 90 %
    expect(changes(decide(s, cfg, NOW).actions)).toMatchObject([{ kind: 'promote-member', memberId: 'm2' }]);
  });

  it('rule 4: a learner is not put behind the API load balancer, nor a voter before its /readyz', () => {
    const s = healthy(2);
    s.group.instances.push(inst(3, { lifecycleState: 'Pending:Wait', apiReady: true, launchTime: NOW }));
    s.etcd.members.push(member(3, { isLearner: true, status: { raftIndex: 0 } }));
    s.joins['i-3'] = { name: 'i-3', initialCluster: 'x', initialClusterState: 'existing' };
    expect(kinds(decide(s, cfg, NOW).actions)).not.toContain('register-target');
    s.etcd.members[2] = member(3);
    s.group.instances[2] = { ...s.group.instances[2]!, apiReady: false };
    const d = decide(s, cfg, NOW);
    expect(kinds(d.actions)).toEqual(['heartbeat-lifecycle']);
    expect(d.waits).toContain('i-3: its API server /readyz');
  });

  it('rule 5: moves leadership off a leaving leader before removing it', () => {
    const s = healthy(3);
    s.group.instances[0] = withState(s.group.instances[0]!, 'Terminating:Wait');
    s.etcd.members[2] = member(3, { status: { raftIndex: 1001 } });
    const d = decide(s, cfg, NOW);
    expect(kinds(d.actions)).toEqual(HAND_OVER);
    expect(d.actions[1]).toMatchObject({ fromMemberId: 'm1', toMemberId: 'm3' }); // the most up to date
  });

  it('rule 5: a dead leaving leader (member unreachable) is removed directly, without a leader move', () => {
    const s = healthy(3);
    s.group.instances[0] = withState(s.group.instances[0]!, 'Terminating:Wait');
    s.etcd.members[0] = member(1, { status: deadStatus });
    const d = decide(s, cfg, NOW);
    expect(kinds(d.actions)).not.toContain('move-leader');
    expect(kinds(d.actions)).toEqual(['deregister-target', 'remove-member', 'heartbeat-lifecycle']);
    expect(only(d.actions, 'remove-member')[0]).toMatchObject({ memberId: 'm1' });
  });

  it('rule 5: a live leaving leader with an alarm still hands leadership over first', () => {
    const s = healthy(3);
    s.group.instances[0] = withState(s.group.instances[0]!, 'Terminating:Wait');
    s.etcd.members[0] = member(1, { status: { alarms: ['NOSPACE'] } });
    const d = decide(s, cfg, NOW);
    expect(kinds(d.actions)).toEqual(HAND_OVER);
  });

  it('rule 5: leadership never goes to a learner or another leaving voter', () => {
    const s = healthy(3);
    s.group.instances[0] = withState(s.group.instances[0]!, 'Terminating:Wait');
    s.group.instances[1] = withState(s.group.instances[1]!, 'Terminating:Wait');
    s.etcd.members[2] = member(3, { isLearner: true });
    const d = decide(s, cfg, NOW);
    expect(kinds(d.actions)).not.toContain('move-leader');
    expect(kinds(d.actions)).not.toContain('remove-member');
    expect(d.waits.join('\n')).toMatch(/i-1 terminating: it leads etcd and no healthy voter can take over/);
  });

  it('rule 6: never removes the last member, never shrinks a 2-voter cluster', () => {
    const one = healthy(1);
    one.group.instances[0] = withState(one.group.instances[0]!, 'Terminating:Wait');
    expect(changes(decide(one, cfg, NOW).actions)).toEqual([]);
    const two = healthy(2);
    two.group.instances[1] = withState(two.group.instances[1]!, 'Terminated');
    const d = decide(two, cfg, NOW);
    expect(changes(d.actions)).toEqual([]);
    expect(d.waits.join('\n')).toMatch(/healthy but its instance i-2 is Terminated: left alone/);
    two.etcd.members[1] = member(2, { status: deadStatus });
    expect(decide(two, cfg, NOW).waits.join('\n')).toMatch(/quorum lost|never shrink a 2-voter cluster/);
  });

  it('rule 7: debounces death: an unreachable member with a live instance is only remembered at first', () => {
    const s = healthy(3);
    s.etcd.members[2] = member(3, { status: deadStatus });
    const d1 = decide(s, cfg, NOW);
    expect(d1.actions).toEqual([]);
    expect(d1.memory.unhealthySince).toEqual({ m3: NOW });
    // still unhealthy, before the threshold: nothing; the first-seen time is kept
    const d2 = decide({ ...s, memory: d1.memory }, cfg, NOW + 60_000);
    expect(d2.actions).toEqual([]);
    expect(d2.memory.unhealthySince).toEqual({ m3: NOW });
    // past the threshold: the group replaces the instance
    const d3 = decide({ ...s, memory: d1.memory }, cfg, NOW + 120_000);
    expect(d3.actions).toMatchObject([{ kind: 'set-unhealthy', instanceId: 'i-3' }]);
    // marked Unhealthy and still unhealthy: the member may go (dead before new)
    s.group.instances[2] = { ...s.group.instances[2]!, health: 'Unhealthy' };
    const d4 = decide({ ...s, memory: d1.memory }, cfg, NOW + 130_000);
    expect(changes(d4.actions)).toMatchObject([{ kind: 'remove-member', memberId: 'm3' }]);
    // healthy again: forgotten
    expect(decide({ ...healthy(3), memory: d1.memory }, cfg, NOW).memory.unhealthySince).toEqual({});
  });

  it('rule 8: a learner already added is not added twice; its join is (re)published', () => {
    const s = healthy(2);
    s.group.instances.push(inst(3, { lifecycleState: 'Pending:Wait', apiReady: false, launchTime: NOW }));
    s.etcd.members.push(unstartedLearner(3));
    const d = decide(s, cfg, NOW);
    expect(changes(d.actions)).toEqual([]);
    expect(only(d.actions, 'publish-join')).toMatchObject([
      {
        instanceId: 'i-3',
        params: {
          name: 'i-3',
          initialClusterState: 'existing',
          memberId: 'm3',
          initialCluster: `i-1=https://${ipOf(1)}:2380,i-2=https://${ipOf(2)}:2380,i-3=https://${ipOf(3)}:2380`,
        },
      },
    ]);
  });

  it('rule 8: a reused IP: the old member holding the peer URL goes first, the new instance never takes it over', () => {
    const s = healthy(3);
    s.group.instances[2] = withState(s.group.instances[2]!, 'Terminated');
    s.etcd.members[2] = member(3, { status: deadStatus });
    s.group.instances.push(
      inst(4, { lifecycleState: 'Pending:Wait', privateIp: ipOf(3), apiReady: false, launchTime: NOW }),
    );
    const d = decide(s, testConfig({ memberUnhealthyMs: 1 }), NOW);
    expect(changes(d.actions)).toMatchObject([{ kind: 'remove-member', memberId: 'm3' }]);
    expect(d.waits.join('\n')).toMatch(/i-4: its peer URL is still held by member m3 \(i-3\)/);
  });

  it('rule 9: removes a stray learner left by a failed join, then the next join can go ahead', () => {
    const s = healthy(3);
    s.etcd.members.push(unstartedLearner(9)); // its instance is long gone
    s.group.instances.push(inst(4, { lifecycleState: 'Pending:Wait', apiReady: false, launchTime: NOW }));
    const d = decide(s, testConfig({ expectedMasters: 5 }), NOW);
    expect(changes(d.actions)).toMatchObject([
      { kind: 'remove-member', memberId: 'm9', reason: /stray learner/ },
    ]);
  });

  it('rule 10: a snapshot precedes each membership change when backups are configured', () => {
    const s = healthy(3);
    s.group.instances[2] = withState(s.group.instances[2]!, 'Terminated');
    s.etcd.members[2] = member(3, { status: deadStatus });
    const d = decide(s, testConfig({ backupBucket: 'b' }), NOW);
    expect(kinds(d.actions)).toEqual(['snapshot', 'remove-member', 'deregister-target']);
    expect(d.actions[0]).toMatchObject({ reason: 'before remove m3 (i-3)' });
    expect(kinds(decide(s, cfg, NOW).actions)).not.toContain('snapshot');
  });
});

describe('decide: priorities of issue 5', () => {
  it('1: a terminating master: deregister, remove (leader moved), then complete once its member is gone', () => {
    const s = healthy(3);
    s.group.instances[1] = withState(s.group.instances[1]!, 'Terminating:Wait');
    s.etcd.members[2] = member(3, { status: deadStatus });
    s.group.instances[2] = withState(s.group.instances[2]!, 'Terminated');
    const d = decide(s, cfg, NOW);
    // the terminating one comes first, but removing it is unsafe with m3 dead: the dead one goes
    expect(changes(d.actions)).toMatchObject([{ kind: 'remove-member', memberId: 'm3' }]);
    const s2 = healthy(3);
    s2.group.instances[1] = withState(s2.group.instances[1]!, 'Terminating:Wait');
    expect(kinds(decide(s2, cfg, NOW).actions)).toEqual([
      'deregister-target',
      'remove-member',
      'heartbeat-lifecycle',
    ]);
    s2.etcd.members.splice(1, 1);
    s2.targets.splice(1, 1);
    expect(decide(s2, cfg, NOW).actions).toMatchObject([
      { kind: 'complete-lifecycle', instanceId: 'i-2', hook: 'terminating', result: 'CONTINUE' },
    ]);
  });

  it('2 before 4: a member with no instance goes before a new master is added', () => {
    const s = healthy(3);
    s.group.instances.splice(2, 1);
    s.etcd.members[2] = member(3, { status: deadStatus });
    s.group.instances.push(inst(4, { lifecycleState: 'Pending:Wait', apiReady: false, launchTime: NOW }));
    const d = decide(s, cfg, NOW);
    expect(changes(d.actions)).toMatchObject([
      { kind: 'remove-member', memberId: 'm3', reason: /no instance/ },
    ]);
    expect(only(d.actions, 'heartbeat-lifecycle')).toMatchObject([{ instanceId: 'i-4', hook: 'launching' }]);
  });

  it('3: unnamed members with no instance are removed, voters before learners', () => {
    const s = healthy(3, { memory: { unhealthySince: {}, established: true } });
    s.etcd.members.push(unstartedLearner(8));
    const d = decide(s, cfg, NOW);
    expect(changes(d.actions)).toMatchObject([{ kind: 'remove-member', memberId: 'm8', name: '' }]);
  });

  it('4: adds the earliest launched Pending:Wait master, one per pass', () => {
    const s = healthy(1);
    s.group.instances.push(inst(3, { lifecycleState: 'Pending:Wait', apiReady: false, launchTime: NOW - 5 }));
    s.group.instances.push(inst(2, { lifecycleState: 'Pending:Wait', apiReady: false, launchTime: NOW - 9 }));
    const d = decide(s, cfg, NOW);
    expect(changes(d.actions)).toMatchObject([{ kind: 'add-learner', instanceId: 'i-2' }]);
    expect(only(d.actions, 'heartbeat-lifecycle').map((a) => a.instanceId)).toEqual(['i-2', 'i-3']);
  });

  it('4: no more than M+1 members while replacing', () => {
    const s = healthy(4);
    s.group.instances.push(inst(5, { lifecycleState: 'Pending:Wait', apiReady: false, launchTime: NOW }));
    const d = decide(s, cfg, NOW);
    expect(changes(d.actions)).toEqual([]);
    expect(d.waits.join('\n')).toMatch(/i-5: 4 members already/);
  });

  it('5: promotes a caught-up learner instead of adding another', () => {
    const s = healthy(2);
    s.etcd.members.push(member(3, { isLearner: true }));
    s.group.instances.push(inst(3, { lifecycleState: 'Pending:Wait', apiReady: false, launchTime: NOW }));
    s.group.instances.push(inst(4, { lifecycleState: 'Pending:Wait', apiReady: false, launchTime: NOW }));
    s.joins['i-3'] = { name: 'i-3', initialCluster: 'x', initialClusterState: 'existing' };
    expect(changes(decide(s, cfg, NOW).actions)).toMatchObject([{ kind: 'promote-member', memberId: 'm3' }]);
  });

  it('6: registers a ready voter and completes its launch CONTINUE; abandons a failed or timed-out one', () => {
    const s = healthy(3);
    s.group.instances[2] = withState(s.group.instances[2]!, 'Pending:Wait');
    s.targets.pop();
    expect(decide(s, cfg, NOW).actions).toMatchObject([
      { kind: 'register-target', instanceId: 'i-3' },
      { kind: 'complete-lifecycle', instanceId: 'i-3', hook: 'launching', result: 'CONTINUE' },
    ]);
    const failed = healthy(2);
    failed.group.instances.push(
      inst(3, { lifecycleState: 'Pending:Wait', bootFailed: true, launchTime: NOW }),
    );
    expect(decide(failed, cfg, NOW).actions).toMatchObject([
      { kind: 'complete-lifecycle', instanceId: 'i-3', result: 'ABANDON', reason: 'its bootstrap failed' },
    ]);
    const slow = healthy(2);
    slow.group.instances.push(
      inst(3, { lifecycleState: 'Pending:Wait', apiReady: false, launchTime: NOW - 900_000 }),
    );
    slow.etcd.members.push(unstartedLearner(3));
    slow.memory.pendingSince = { 'i-3': NOW - 900_000 };
    expect(decide(slow, cfg, NOW).actions).toMatchObject([
      {
        kind: 'complete-lifecycle',
        instanceId: 'i-3',
        result: 'ABANDON',
        reason: 'not ready 900 s after launch',
      },
    ]);
  });

  it('6: the boot timeout counts from when a pass first saw the master, not from a launch before the reconciler existed', () => {
    // First bring-up: the third master launched long before the reconciler's first pass saw it.
    const s = healthy(2);
    s.group.instances.push(
      inst(3, { lifecycleState: 'Pending:Wait', apiReady: false, launchTime: NOW - 1_800_000 }),
    );
    const first = decide(s, cfg, NOW);
    expect(only(first.actions, 'complete-lifecycle')).toEqual([]);
    expect(first.memory.pendingSince).toEqual({ 'i-3': NOW });
    // Still within the timeout counted from that first sight: kept.
    const later = { ...s, memory: first.memory };
    expect(only(decide(later, cfg, NOW + cfg.bootTimeoutMs - 1).actions, 'complete-lifecycle')).toEqual([]);
    // A full timeout after it was first seen: abandoned, and the reason says from when.
    expect(only(decide(later, cfg, NOW + cfg.bootTimeoutMs).actions, 'complete-lifecycle')).toMatchObject([
      {
        instanceId: 'i-3',
        result: 'ABANDON',
        reason: expect.stringMatching(/after the reconciler first saw it/),
      },
    ]);
  });

  it('6: never abandons a master whose member is a voter quorum still needs', () => {
    const s = healthy(3);
    s.group.instances[2] = {
      ...withState(s.group.instances[2]!, 'Pending:Wait'),
      apiReady: false,
      launchTime: NOW - 900_000,
    };
    s.etcd.members[1] = member(2, { status: deadStatus });
    s.memory.pendingSince = { 'i-3': NOW - 900_000 };
    const d = decide(s, cfg, NOW);
    expect(kinds(d.actions)).not.toContain('complete-lifecycle');
    expect(d.waits).toContain('i-3: its API server /readyz'); // a healthy voter is held, not traded for time
    expect(only(d.actions, 'heartbeat-lifecycle')).toMatchObject([{ instanceId: 'i-3', hook: 'launching' }]);
  });

  it('7: registers InService masters that are missing and deregisters what is not a running master', () => {
    const s = healthy(3);
    s.targets = [
      { instanceId: 'i-1', health: 'healthy' },
      { instanceId: 'i-2', health: 'healthy' },
      { instanceId: 'i-99', health: 'unhealthy' },
      { instanceId: 'i-98', health: 'draining' },
    ];
    expect(decide(s, cfg, NOW).actions).toEqual([
      { kind: 'register-target', instanceId: 'i-3', reason: expect.any(String) },
      { kind: 'deregister-target', instanceId: 'i-99', reason: 'not a master of the group' },
    ]);
  });

  it('8: replaces a long-unhealthy member only when quorum is not at risk and nothing else is replaced', () => {
    const s = healthy(3);
    s.etcd.members[2] = member(3, { status: deadStatus });
    const memory = { unhealthySince: { m3: NOW - 200_000 }, established: true };
    expect(decide({ ...s, memory }, cfg, NOW).actions).toMatchObject([
      { kind: 'set-unhealthy', instanceId: 'i-3' },
    ]);
    // two of three down: quorum lost, do not make it worse
    s.etcd.members[1] = member(2, { status: deadStatus });
    const lost = decide(
      { ...s, memory: { ...memory, unhealthySince: { m2: NOW - 200_000, m3: NOW - 200_000 } } },
      cfg,
      NOW,
    );
    expect(kinds(lost.actions)).not.toContain('set-unhealthy');
    expect(lost.waits.join('\n')).toMatch(/quorum is lost/);
  });

  it('8: an InService master without any member is replaced after the threshold', () => {
    const s = healthy(3);
    s.etcd.members.pop();
    const d1 = decide(s, cfg, NOW);
    expect(d1.memory.unhealthySince).toEqual({ 'instance:i-3': NOW });
    expect(decide({ ...s, memory: d1.memory }, cfg, NOW + 120_000).actions).toMatchObject([
      { kind: 'set-unhealthy', instanceId: 'i-3', reason: /no etcd member/ },
    ]);
  });

  it('9: a brand-new cluster: one seed (earliest launch, then id), remembered; the others wait', () => {
    const s = state({
      instances: [
        inst(2, { lifecycleState: 'Pending:Wait', apiReady: false, launchTime: NOW - 10 }),
        inst(1, { lifecycleState: 'Pending:Wait', apiReady: false, launchTime: NOW - 10 }),
        inst(3, { lifecycleState: 'Pending:Wait', apiReady: false, launchTime: NOW - 20 }),
      ],
      memory: { unhealthySince: {} },
    });
    const d = decide(s, cfg, NOW);
    expect(only(d.actions, 'publish-join')).toEqual([
      {
        kind: 'publish-join',
        instanceId: 'i-3',
        params: { name: 'i-3', initialCluster: `i-3=https://${ipOf(3)}:2380`, initialClusterState: 'new' },
        reason: expect.any(String),
      },
    ]);
    expect(d.memory.seedInstanceId).toBe('i-3');
    expect(d.waits).toContain("i-1 waits until the seed's member exists");
    expect(only(d.actions, 'heartbeat-lifecycle')).toHaveLength(3);
    // the remembered seed stays the seed even if an earlier instance shows up; it is not re-published
    s.group.instances.push(inst(4, { lifecycleState: 'Pending:Wait', launchTime: NOW - 99 }));
    s.joins['i-3'] = only(d.actions, 'publish-join')[0]!.params;
    const d2 = decide({ ...s, memory: d.memory }, cfg, NOW);
    expect(d2.memory.seedInstanceId).toBe('i-3');
    expect(only(d2.actions, 'publish-join')).toEqual([]);
  });

  it('9: never seeds over an established cluster whose etcd is unreachable', () => {
    const s = state({
      instances: [inst(1, { lifecycleState: 'Pending:Wait', launchTime: NOW })],
      memory: { unhealthySince: {}, established: true },
    });
    const d = decide(s, cfg, NOW);
    expect(kinds(d.actions)).not.toContain('publish-join');
    expect(d.waits.join('\n')).toMatch(/etcd unreachable: no membership change/);
    const withInService = state({
      instances: [inst(1), inst(2, { lifecycleState: 'Pending:Wait' })],
      memory: { unhealthySince: {} },
    });
    expect(kinds(decide(withInService, cfg, NOW).actions)).not.toContain('publish-join');
  });

  it('forgets the join parameters of instances that are gone, a few per pass', () => {
    const join = { name: 'x', initialCluster: 'x', initialClusterState: 'existing' as const };
    const s = healthy(3);
    s.group.instances.push(inst(4, { lifecycleState: 'Pending:Wait', apiReady: false, launchTime: NOW }));
    s.group.instances.push(inst(5, { lifecycleState: 'Terminated' }));
    for (const id of ['i-1', 'i-4', 'i-5', ...Array.from({ length: 9 }, (_, k) => `i-9${k}`)])
      s.joins[id] = join;
    const deletes = only(decide(s, testConfig({ expectedMasters: 5 }), NOW).actions, 'delete-join');
    expect(deletes.map((a) => a.instanceId)).toEqual(['i-5', 'i-90', 'i-91', 'i-92', 'i-93']);
    expect(deletes[0]!.reason).toBe('the instance is Terminated');
  });

  it('while a restore is recorded: no membership change, no replacement; the old masters are let go only when quorum is lost (or forced)', () => {
    const s = healthy(3, { memory: { unhealthySince: { m3: NOW - 600_000 }, established: true } });
    s.restore = { requestedAt: '2026-01-01T00:00:00.000Z', seedInstanceId: 'i-1' };
    s.group.instances[1] = withState(s.group.instances[1]!, 'Terminating:Wait');
    s.etcd.members[2] = member(3, { status: deadStatus });
    s.etcd.members.push(unstartedLearner(9));
    const d = decide(s, cfg, NOW);
    expect(changes(d.actions)).toEqual([]);
    expect(kinds(d.actions)).not.toContain('set-unhealthy');
    // quorum is held (m1, m2): a mistaken restore lets no voter go
    expect(only(d.actions, 'complete-lifecycle')).toEqual([]);
    expect(only(d.actions, 'heartbeat-lifecycle')).toMatchObject([
      { instanceId: 'i-2', hook: 'terminating' },
    ]);
    expect(d.waits.join('\n')).toMatch(
      /remove m9 \(unnamed\): a restore is in progress \(requested 2026-01-01/,
    );
    s.restore = { ...s.restore, force: true };
    expect(decide(s, cfg, NOW).actions).toContainEqual(
      expect.objectContaining({
        kind: 'complete-lifecycle',
        instanceId: 'i-2',
        hook: 'terminating',
        result: 'CONTINUE',
      }),
    );
  });

  it('no membership change while etcd has no leader', () => {
    const s = healthy(3);
    s.group.instances[2] = withState(s.group.instances[2]!, 'Terminated');
    s.etcd.members[2] = member(3, { status: deadStatus });
    s.etcd.leaderId = undefined;
    const d = decide(s, cfg, NOW);
    expect(changes(d.actions)).toEqual([]);
    expect(d.waits).toContain('remove m3 (i-3): etcd has no leader (election in progress?)');
  });

  it('every action carries a reason', () => {
    const s = healthy(3);
    s.group.instances[0] = withState(s.group.instances[0]!, 'Terminating:Wait');
    s.group.instances.push(inst(4, { lifecycleState: 'Pending:Wait', apiReady: false, launchTime: NOW }));
    for (const a of decide(s, testConfig({ backupBucket: 'b' }), NOW).actions) expect(a.reason).not.toBe('');
  });
});

describe('decide: issue 14, healing rules that hold when faults overlap', () => {
  const reasons = (d: { blocked: Array<{ reason: string }> }) => d.blocked.map((w) => w.reason);
  const heartbeats = (as: Action[]) =>
    only(as, 'heartbeat-lifecycle').map((a) => `${a.instanceId} ${a.hook}`);

  it('finding 1: a terminating master is held while its member exists, even in the pass that chose its removal', () => {
    const s = healthy(3);
    s.group.instances[1] = withState(s.group.instances[1]!, 'Terminating:Wait');
    const d = decide(s, testConfig({ backupBucket: 'b' }), NOW);
    expect(changes(d.actions)).toMatchObject([{ kind: 'remove-member', memberId: 'm2' }]);
    // the executor may skip or fail the removal (snapshot, re-check, etcd refusal): the hook must not time out
    expect(heartbeats(d.actions)).toEqual(['i-2 terminating']);
    // the removal was not done: next pass, the same (held again)
    expect(heartbeats(decide({ ...s, memory: d.memory }, cfg, NOW + 60_000).actions)).toEqual([
      'i-2 terminating',
    ]);
  });

  it('finding 2: a member cut off from its peers, naming another leader, reporting errors or lagging is not a healthy voter', () => {
    for (const status of [
      { leaderId: '0', errors: ['etcdserver: no leader'] },
      { leaderId: 'm9' },
      { errors: ['etcdserver: corrupt cluster'] },
      { raftIndex: 800 },
    ]) {
      const s = healthy(3);
      s.etcd.members[2] = member(3, { status });
      s.group.instances[0] = withState(s.group.instances[0]!, 'Terminating:Wait'); // the leader leaves
      const d = decide(s, cfg, NOW);
      expect(d.conditions.healthyVoters).toBe(2);
      // removing m1 would leave m2 alone with a member that cannot serve: refused, m1 held
      expect(changes(d.actions)).toEqual([]);
      expect(reasons(d)).toContain(WAIT.quorum);
      expect(heartbeats(d.actions)).toEqual(['i-1 terminating']);
    }
  });

  it('finding 2: no leader a majority agrees on means no healthy voter and no change', () => {
    const s = healthy(3);
    s.etcd.leaderId = undefined;
    s.group.instances[2] = withState(s.group.instances[2]!, 'Terminating:Wait');
    const d = decide(s, cfg, NOW);
    expect(d.conditions.healthyVoters).toBe(0);
    expect(changes(d.actions)).toEqual([]);
    expect(reasons(d)).toContain(WAIT.noLeader);
    expect(heartbeats(d.actions)).toEqual(['i-3 terminating']);
  });

  it('finding 3: etcd unreachable from the reconciler: terminating masters of an established cluster are held, launching masters with a join are not abandoned', () => {
    const s = state({
      instances: [
        inst(1),
        withState(inst(2), 'Terminating:Wait'),
        inst(3, { lifecycleState: 'Pending:Wait', apiReady: false, launchTime: NOW - 2_000_000 }),
      ],
      memory: { unhealthySince: {}, established: true, pendingSince: { 'i-3': NOW - 2_000_000 } },
      joins: { 'i-3': { name: 'i-3', initialCluster: 'x', initialClusterState: 'existing', memberId: 'm3' } },
    });
    const d = decide(s, cfg, NOW);
    expect(only(d.actions, 'complete-lifecycle')).toEqual([]);
    expect(heartbeats(d.actions)).toEqual(['i-2 terminating', 'i-3 launching']);
    expect(reasons(d)).toContain(WAIT.etcdUnreachable);
  });

  it('finding 3: etcd unreachable from the reconciler: a launching master given a join is held before its boot timeout too (simulate --seed 504)', () => {
    const s = state({
      instances: [
        inst(1),
        inst(2),
        inst(3, { lifecycleState: 'Pending:Wait', apiReady: true, launchTime: NOW - 60_000 }),
      ],
      memory: { unhealthySince: {}, established: true },
      joins: { 'i-3': { name: 'i-3', initialCluster: 'x', initialClusterState: 'existing', memberId: 'm3' } },
    });
    expect(heartbeats(decide(s, cfg, NOW).actions)).toEqual(['i-3 launching']);
  });

  it('finding 3: a brand-new cluster while etcd does not answer the reconciler: the seed, given its join and serving its API, is held past its boot timeout (simulate --seed 4)', () => {
    const booting = { lifecycleState: 'Pending:Wait' as const, launchTime: NOW - 1_000_000 };
    const s = state({
      instances: [inst(1, { ...booting, apiReady: true }), inst(2, { ...booting, apiReady: false })],
      memory: {
        unhealthySince: {},
        seedInstanceId: 'i-1',
        pendingSince: { 'i-1': NOW - 1_000_000, 'i-2': NOW - 1_000_000 },
      },
      joins: {
        'i-1': { name: 'i-1', initialCluster: `i-1=https://${ipOf(1)}:2380`, initialClusterState: 'new' },
      },
    });
    const d = decide(s, cfg, NOW);
    // Its API server serves, so its etcd runs: the only voter of the cluster. i-2 has no join: nothing runs there.
    expect(only(d.actions, 'complete-lifecycle')).toMatchObject([{ instanceId: 'i-2', result: 'ABANDON' }]);
    expect(heartbeats(d.actions)).toEqual(['i-1 launching']);
    expect(reasons(d)).toContain(WAIT.etcdUnreachable);
    // A seed whose API never came up is abandoned at the boot timeout (a new cluster must not hang on it).
    s.group.instances[0] = { ...s.group.instances[0]!, apiReady: false };
    expect(only(decide(s, cfg, NOW).actions, 'complete-lifecycle')).toMatchObject([
      { instanceId: 'i-1', result: 'ABANDON' },
      { instanceId: 'i-2', result: 'ABANDON' },
    ]);
  });

  it('heartbeats the hooks with a voter behind them first: an invocation that dies mid-pass has held those (simulate --seed 1099 --masters 7)', () => {
    const s = healthy(3);
    // i-1 waits to join (no member yet); i-3 votes and waits for its API server.
    s.etcd.members.shift();
    s.etcd.leaderId = 'm2';
    s.group.instances[0] = {
      ...withState(s.group.instances[0]!, 'Pending:Wait'),
      apiReady: false,
      launchTime: NOW - 60_000,
    };
    s.group.instances[2] = {
      ...withState(s.group.instances[2]!, 'Pending:Wait'),
      apiReady: false,
      launchTime: NOW - 60_000,
    };
    const d = decide(s, cfg, NOW);
    expect(heartbeats(d.actions)).toEqual(['i-3 launching', 'i-1 launching']);
  });

  it('finding 3: a launch is never abandoned while its member votes: the member is removed first', () => {
    const s = healthy(3);
    s.group.instances[2] = {
      ...withState(s.group.instances[2]!, 'Pending:Wait'),
      apiReady: false,
      bootFailed: true,
    };
    const d = decide(s, cfg, NOW);
    expect(only(d.actions, 'complete-lifecycle')).toEqual([]);
    expect(changes(d.actions)).toMatchObject([{ kind: 'remove-member', memberId: 'm3' }]);
    expect(heartbeats(d.actions)).toEqual(['i-3 launching']);
    s.etcd.members.pop();
    expect(only(decide(s, cfg, NOW).actions, 'complete-lifecycle')).toMatchObject([
      { instanceId: 'i-3', result: 'ABANDON' },
    ]);
  });

  it('a healthy voter whose API is slow is not abandoned at the boot timeout: held until ready (simulate --seed 70 --masters 5)', () => {
    const s = healthy(3);
    s.group.instances[2] = {
      ...withState(s.group.instances[2]!, 'Pending:Wait'),
      apiReady: false,
      launchTime: NOW - 2_000_000,
    };
    s.memory.pendingSince = { 'i-3': NOW - 2_000_000 };
    const d = decide(s, cfg, NOW);
    expect(changes(d.actions)).toEqual([]);
    expect(only(d.actions, 'complete-lifecycle')).toEqual([]);
    expect(heartbeats(d.actions)).toEqual(['i-3 launching']);
    expect(d.waits).toContain('i-3: its API server /readyz');
  });

  it('finding 4: one etcd dead for good, then a healthy master terminated: replace the dead first, then remove the terminating one', () => {
    const config = testConfig({ backupBucket: 'b' });
    const s = healthy(3, {
      memory: { unhealthySince: { m3: NOW - 600_000 }, established: true },
    });
    s.etcd.members[2] = member(3, { status: deadStatus }); // C: its etcd is dead, its instance runs
    s.group.instances[1] = withState(s.group.instances[1]!, 'Terminating:Wait'); // B: rebalanced away
    s.group.instances.push(inst(4, { lifecycleState: 'Pending:Wait', apiReady: false, launchTime: NOW }));
    // pass 1: B cannot go (quorum), D cannot be added (a dead voter): C is replaced
    const d1 = decide(s, config, NOW);
    expect(only(d1.actions, 'set-unhealthy')).toMatchObject([{ instanceId: 'i-3' }]);
    expect(heartbeats(d1.actions)).toEqual(['i-2 terminating', 'i-4 launching']);
    // the same when B was marked Unhealthy by a health check outside the reconciler (simulate --seed 583)
    const marked = structuredClone(s);
    marked.group.instances[1] = { ...marked.group.instances[1]!, health: 'Unhealthy' };
    expect(only(decide(marked, config, NOW).actions, 'set-unhealthy')).toMatchObject([{ instanceId: 'i-3' }]);
    // pass 2: C is marked Unhealthy: its member goes (dead before new)
    s.group.instances[2] = { ...s.group.instances[2]!, health: 'Unhealthy' };
    const d2 = decide({ ...s, memory: d1.memory }, config, NOW + 10_000);
    expect(changes(d2.actions)).toMatchObject([{ kind: 'remove-member', memberId: 'm3' }]);
    // pass 3: A and B healthy: D joins as a learner (B is still held)
    s.etcd.members.pop();
    s.group.instances[2] = withState(s.group.instances[2]!, 'Terminated');
    const d3 = decide({ ...s, memory: d2.memory }, config, NOW + 20_000);
    expect(changes(d3.actions)).toMatchObject([{ kind: 'add-learner', instanceId: 'i-4' }]);
    expect(heartbeats(d3.actions)).toContain('i-2 terminating');
    // pass 4: D promoted; pass 5: B removed with D voting
    s.etcd.members.push(member(4, { isLearner: true }));
    s.joins['i-4'] = { name: 'i-4', initialCluster: 'x', initialClusterState: 'existing', memberId: 'm4' };
    expect(changes(decide({ ...s, memory: d3.memory }, config, NOW + 30_000).actions)).toMatchObject([
      { kind: 'promote-member', memberId: 'm4' },
    ]);
    s.etcd.members[2] = member(4);
    expect(changes(decide({ ...s, memory: d3.memory }, config, NOW + 40_000).actions)).toMatchObject([
      { kind: 'remove-member', memberId: 'm2' },
    ]);
  });

  it('finding 7: a NOSPACE alarm never causes a replacement (the new master would sync the same database)', () => {
    const s = healthy(3, { memory: { unhealthySince: { m3: NOW - 600_000 }, established: true } });
    s.etcd.members[2] = member(3, { status: { alarms: ['NOSPACE'] } });
    const d = decide(s, cfg, NOW);
    expect(kinds(d.actions)).not.toContain('set-unhealthy');
    expect(reasons(d)).toContain(WAIT.databaseFull);
    expect(d.memory.unhealthySince).toEqual({});
    expect(d.conditions.healthyVoters).toBe(2); // it still does not count toward quorum
    // a CORRUPT alarm is the member's own: replaced
    s.etcd.members[2] = member(3, { status: { alarms: ['CORRUPT'] } });
    expect(only(decide(s, cfg, NOW).actions, 'set-unhealthy')).toMatchObject([{ instanceId: 'i-3' }]);
  });

  it('finding 7: "established" does not live only in the status document: the durable record stops a second seed', () => {
    const s = state({
      instances: [inst(1, { lifecycleState: 'Pending:Wait', apiReady: false, launchTime: NOW })],
      memory: { unhealthySince: {} }, // the status document was unreadable or of another format
    });
    s.clusterRecorded = true;
    const d = decide(s, cfg, NOW);
    expect(kinds(d.actions)).not.toContain('publish-join');
    expect(reasons(d)).toContain(WAIT.etcdUnreachable);
    // the record is written once, when etcd shows a started voter and it is missing
    const live = healthy(3);
    live.clusterRecorded = undefined;
    expect(only(decide(live, cfg, NOW).actions, 'record-cluster')).toHaveLength(1);
    live.clusterRecorded = true;
    expect(only(decide(live, cfg, NOW).actions, 'record-cluster')).toHaveLength(0);
  });

  it('finding 7: replacement loops stop at the retry limit', () => {
    const s = healthy(3);
    s.etcd.members[2] = member(3, { status: deadStatus });
    const memory = {
      unhealthySince: { m3: NOW - 600_000 },
      established: true,
      replacements: [NOW - 3_000_000, NOW - 2_000_000, NOW - 1_000_000],
    };
    const d = decide({ ...s, memory }, cfg, NOW);
    expect(kinds(d.actions)).not.toContain('set-unhealthy');
    expect(reasons(d)).toContain(WAIT.replacementLimit);
    // an hour after the oldest, one more is allowed, and remembered
    const later = decide({ ...s, memory }, cfg, NOW + 700_000);
    expect(only(later.actions, 'set-unhealthy')).toHaveLength(1);
    expect(later.memory.replacements).toEqual([NOW - 2_000_000, NOW - 1_000_000, NOW + 700_000]);
  });

  it('every wait carries a reason constant', () => {
    const s = healthy(3);
    s.group.instances[0] = withState(s.group.instances[0]!, 'Terminating:Wait');
    s.etcd.members[2] = member(3, { status: deadStatus });
    const d = decide(s, cfg, NOW);
    expect(d.blocked.length).toBe(d.waits.length);
    for (const w of d.blocked) expect(Object.values(WAIT)).toContain(w.reason);
  });
});
