/**
 * The restore phase (src/heal/phases/restore.ts) through `decide`: how the reconciler judges quorum,
 * and a restore from the record to the cleared record. Issue 14 finding 6: on the old code a
 * restore record let every terminating master go whatever quorum said, nothing published the
 * seed's restore join, and nothing cleared the record.
 */
import { describe, expect, it } from 'vitest';
import type { Action } from '../../src/heal/actions.js';
import { decide } from '../../src/heal/decide.js';
import type { ObservedState } from '../../src/heal/observed.js';
import { assessQuorum } from '../../src/heal/phases/restore.js';
import { deadStatus, inst, ipOf, member, state, T0, testConfig, withState } from '../support/fake-ports.js';

const NOW = T0 + 3_600_000;
const cfg = testConfig();
const REQ = '2026-01-01T00:00:00.000Z';
const only = <K extends Action['kind']>(as: Action[], kind: K) =>
  as.filter((a): a is Extract<Action, { kind: K }> => a.kind === kind);

/** Three masters; i-2 and i-3 destroyed (their members dead), i-1 alone without a leader. */
function quorumLost(): ObservedState {
  const s = state({
    instances: [inst(1), withState(inst(2), 'Terminating:Wait'), withState(inst(3), 'Terminating:Wait')],
    members: [
      member(1, { status: { leaderId: '0', errors: ['etcdserver: no leader'] } }),
      member(2, { status: deadStatus }),
      member(3, { status: deadStatus }),
    ],
    memory: { unhealthySince: {}, established: true },
  });
  s.etcd.leaderId = undefined;
  for (const i of s.group.instances) i.apiReady = false;
  return s;
}

describe('assessQuorum', () => {
  it('held when a majority of voters serves with a leader; lost without a leader or majority', () => {
    const ok = state({ instances: [inst(1), inst(2), inst(3)], members: [member(1), member(2), member(3)] });
    expect(assessQuorum(ok).state).toBe('held');
    expect(assessQuorum(quorumLost())).toMatchObject({ state: 'lost', why: /no voter reports a leader/ });
  });

  it('etcd unreachable: lost when every master refuses, unknown when calls time out, held when an API server is ready', () => {
    const s = state({
      instances: [inst(1, { apiReady: false }), inst(2, { apiReady: false })],
      etcdReachable: false,
    });
    s.memory = { unhealthySince: {}, established: true };
    s.etcd.error = `https://${ipOf(1)}:2379: connect ECONNREFUSED; https://${ipOf(2)}:2379: connect ECONNREFUSED`;
    expect(assessQuorum(s).state).toBe('lost');
    s.etcd.error = `https://${ipOf(1)}:2379: connect ECONNREFUSED; etcd https://${ipOf(2)}:2379/v3/cluster/member/list: no answer within 3000 ms`;
    expect(assessQuorum(s)).toMatchObject({ state: 'unknown', why: /cut off from etcd/ });
    s.group.instances[0]!.apiReady = true;
    expect(assessQuorum(s).state).toBe('held');
  });

  it('is remembered with the time it started, for `tripod restore` to read', () => {
    const s = quorumLost();
    const d1 = decide(s, cfg, NOW);
    expect(d1.memory.quorum).toMatchObject({ state: 'lost', since: NOW });
    const d2 = decide({ ...s, memory: d1.memory }, cfg, NOW + 60_000);
    expect(d2.memory.quorum).toMatchObject({ state: 'lost', since: NOW });
  });
});

describe('a restore, pass by pass', () => {
  it('quorum lost: the old masters are let go, then the seed gets its restore join (state new)', () => {
    const s = quorumLost();
    s.restore = { requestedAt: REQ, seedInstanceId: 'i-1' };
    const d = decide(s, cfg, NOW);
    expect(only(d.actions, 'complete-lifecycle').map((a) => [a.instanceId, a.result])).toEqual([
      ['i-2', 'CONTINUE'],
      ['i-3', 'CONTINUE'],
    ]);
    expect(only(d.actions, 'publish-join')).toMatchObject([
      {
        instanceId: 'i-1',
        params: {
          name: 'i-1',
          initialCluster: `i-1=https://${ipOf(1)}:2380`,
          initialClusterState: 'new',
          restore: REQ,
        },
      },
    ]);
    expect(d.memory.restore).toMatchObject({
      requestedAt: REQ,
      seedInstanceId: 'i-1',
      seedMemberBefore: 'm1',
    });
  });

  it('waits for the group to shrink: no restore join while another master may run an old member', () => {
    const s = quorumLost();
    s.group.instances[2] = inst(3, { apiReady: false }); // still InService
    s.restore = { requestedAt: REQ, seedInstanceId: 'i-1' };
    const d = decide(s, cfg, NOW);
    expect(only(d.actions, 'publish-join')).toEqual([]);
    expect(d.waits.join('\n')).toMatch(/the group to shrink to the seed i-1 \(i-3 still running\)/);
  });

  it('an unreadable restore record stops changes but restores nothing', () => {
    const s = quorumLost();
    s.restore = { requestedAt: REQ, unreadable: true };
    const d = decide(s, cfg, NOW);
    expect(only(d.actions, 'publish-join')).toEqual([]);
    expect(d.waits.join('\n')).toMatch(/restore record is unreadable/);
  });

  it('the seed serves the restored cluster: the record is cleared once the group is back to M', () => {
    const s = state({
      instances: [
        inst(1),
        inst(4, { lifecycleState: 'Pending:Wait', apiReady: false, launchTime: NOW - 10_000 }),
      ],
      members: [member(1, { id: 'r1' })],
      joins: {
        'i-1': {
          name: 'i-1',
          initialCluster: `i-1=https://${ipOf(1)}:2380`,
          initialClusterState: 'new',
          restore: REQ,
        },
      },
      memory: {
        unhealthySince: {},
        established: true,
        restore: {
          requestedAt: REQ,
          seedInstanceId: 'i-1',
          seedMemberBefore: 'm1',
          publishedAt: NOW - 60_000,
        },
      },
    });
    s.restore = { requestedAt: REQ, seedInstanceId: 'i-1' };
    s.group.desired = 1;
    const shrunk = decide(s, cfg, NOW);
    expect(only(shrunk.actions, 'clear-restore')).toEqual([]);
    expect(shrunk.waits.join('\n')).toMatch(
      /serves the restored data; grow the group back to 3 \(tripod restore --finish\)/,
    );
    // the new master waits (held) while the record exists
    expect(only(shrunk.actions, 'heartbeat-lifecycle').map((a) => a.instanceId)).toContain('i-4');
    expect(only(shrunk.actions, 'add-learner')).toEqual([]);

    s.group.desired = 3;
    expect(only(decide(s, cfg, NOW).actions, 'clear-restore')).toMatchObject([{ requestedAt: REQ }]);

    // the same member as before the restore is not the restored cluster (a one-master cluster's old member)
    s.etcd.members = [member(1)];
    s.etcd.leaderId = 'm1';
    expect(only(decide(s, cfg, NOW).actions, 'clear-restore')).toEqual([]);
  });

  it('a Pending:Wait seed (no usable master) is held, not abandoned, while it restores', () => {
    const s = state({
      instances: [inst(5, { lifecycleState: 'Pending:Wait', apiReady: false, launchTime: NOW - 3_600_000 })],
      etcdReachable: false,
      memory: { unhealthySince: {}, established: true, pendingSince: { 'i-5': NOW - 3_600_000 } },
    });
    s.etcd.error = `https://${ipOf(5)}:2379: connect ECONNREFUSED`;
    s.restore = { requestedAt: REQ };
    const d = decide(s, cfg, NOW);
    expect(only(d.actions, 'complete-lifecycle')).toEqual([]);
    expect(only(d.actions, 'publish-join')).toMatchObject([{ instanceId: 'i-5', params: { restore: REQ } }]);
    expect(only(d.actions, 'heartbeat-lifecycle')).toMatchObject([{ instanceId: 'i-5', hook: 'launching' }]);
  });
});
