/**
 * Warm pool instances (Warmed:*) in a pure decide pass: never a master, a member, a join or a
 * restore seed; a failed prepare is abandoned so the pool refills.
 */
import { describe, expect, it } from 'vitest';
import type { Action } from '../../src/heal/actions.js';
import { decide } from '../../src/heal/decide.js';
import type { LifecycleState } from '../../src/heal/observed.js';
import { deadStatus, healthy, inst, member, state, T0, testConfig } from '../support/fake-ports.js';

const NOW = T0 + 3_600_000;
const cfg = testConfig();
const only = <K extends Action['kind']>(as: Action[], kind: K) =>
  as.filter((a): a is Extract<Action, { kind: K }> => a.kind === kind);
const warm = (n: number, lifecycleState: LifecycleState, bootFailed = false) =>
  inst(n, { lifecycleState, apiReady: false, bootFailed, launchTime: NOW - 60_000 });
const REQ = '2026-01-01T00:00:00.000Z';

describe('decide: warm pool instances', () => {
  it('a converged cluster with a preparing and a stopped pool instance: nothing to do, still converged', () => {
    const s = healthy(3);
    s.group.instances.push(warm(4, 'Warmed:Pending:Wait'), warm(5, 'Warmed:Stopped'));
    const d = decide(s, cfg, NOW);
    expect(d.actions).toEqual([]);
    expect(d.conditions).toMatchObject({ converged: true, runningMasters: 3 });
  });

  it('a master short: the pool instance (Warmed:Pending:Wait) gets no learner, no join, no hold; only a Pending:Wait one joins', () => {
    const s = healthy(3);
    s.group.instances.splice(2, 1);
    s.etcd.members.splice(2, 1);
    s.group.instances.push(warm(4, 'Warmed:Pending:Wait'), warm(6, 'Warmed:Running'));
    s.targets = s.targets.filter((t) => t.instanceId !== 'i-3');
    const d = decide(s, cfg, NOW);
    expect(d.actions).toEqual([]);
    s.group.instances.push(
      inst(5, { lifecycleState: 'Pending:Wait', apiReady: false, launchTime: NOW - 5_000 }),
    );
    const d2 = decide(s, cfg, NOW);
    expect(only(d2.actions, 'add-learner').map((a) => a.instanceId)).toEqual(['i-5']);
    expect(d2.actions.filter((a) => 'instanceId' in a && ['i-4', 'i-6'].includes(a.instanceId))).toEqual([]);
  });

  it('a pool instance whose prepare failed (its boot-failed record) is abandoned at once', () => {
    const s = healthy(3);
    s.group.instances.push(warm(4, 'Warmed:Pending:Wait', true));
    const d = decide(s, cfg, NOW);
    expect(only(d.actions, 'complete-lifecycle')).toMatchObject([
      { instanceId: 'i-4', hook: 'launching', result: 'ABANDON', reason: 'its warm-pool prepare failed' },
    ]);
  });

  it('a pool instance leaving the pool (Warmed:Terminating:Wait, no member) is let go at once: CONTINUE, not the heartbeat timeout', () => {
    // A pool delete or an instance refresh: without this the terminating hook's timeout (600 s) passes first.
    const s = healthy(3);
    s.group.instances.push(warm(4, 'Warmed:Terminating:Wait'), warm(5, 'Warmed:Stopped'));
    const d = decide(s, cfg, NOW);
    expect(d.actions).toEqual([
      {
        kind: 'complete-lifecycle',
        instanceId: 'i-4',
        hook: 'terminating',
        result: 'CONTINUE',
        reason: 'a warm pool instance leaving the pool: no etcd member',
      },
    ]);
    expect(d.conditions).toMatchObject({ runningMasters: 3 });
  });

  it('a leaving pool instance WITH a member (cannot normally happen) is held and its member removed first', () => {
    const s = healthy(3);
    s.group.instances.push(warm(4, 'Warmed:Terminating:Wait'));
    s.etcd.members.push(member(4));
    const d = decide(s, cfg, NOW);
    expect(only(d.actions, 'complete-lifecycle')).toEqual([]);
    expect(only(d.actions, 'remove-member').map((a) => a.memberId)).toEqual(['m4']);
    expect(only(d.actions, 'heartbeat-lifecycle')).toMatchObject([
      { instanceId: 'i-4', hook: 'terminating' },
    ]);
  });

  it('a leaving pool instance while etcd is unreadable in an established cluster is held, not let go blind', () => {
    const s = healthy(3);
    s.group.instances.push(warm(4, 'Warmed:Terminating:Wait'));
    s.etcd = { ...s.etcd, reachable: false, members: [] };
    s.memory = { ...s.memory, established: true };
    const d = decide(s, cfg, NOW);
    expect(only(d.actions, 'complete-lifecycle').filter((a) => a.instanceId === 'i-4')).toEqual([]);
    expect(only(d.actions, 'heartbeat-lifecycle').filter((a) => a.instanceId === 'i-4')).toMatchObject([
      { hook: 'terminating' },
    ]);
  });

  it('a restore never picks a pool instance as its seed (it runs no etcd, it may be stopped)', () => {
    // quorum lost: i-2 and i-3 gone, i-1's member alone; the pool instance is older and sorts first by id
    const s = state({
      instances: [{ ...warm(0, 'Warmed:Stopped'), launchTime: T0 - 1_000 }, inst(1, { apiReady: false })],
      members: [
        member(1, { status: deadStatus }),
        member(2, { status: deadStatus }),
        member(3, { status: deadStatus }),
      ],
      memory: {
        unhealthySince: {},
        established: true,
        quorum: { state: 'lost', since: NOW - 3_600_000, why: 'test' },
      },
    });
    s.restore = { requestedAt: REQ, force: true };
    const d = decide(s, cfg, NOW);
    expect(d.memory.restore?.seedInstanceId).toBe('i-1');
    expect(only(d.actions, 'publish-join').map((a) => a.instanceId)).not.toContain('i-0');
  });
});
