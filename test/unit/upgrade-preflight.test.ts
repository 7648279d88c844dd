import { describe, expect, it } from 'vitest';
import { WAIT } from '../../src/heal/phases/pass.js';
import type { StatusDocument } from '../../src/heal/status.js';
import type { GroupView } from '../../src/upgrade/model.js';
import { preflight, versionStepProblem } from '../../src/upgrade/preflight.js';

const NOW = Date.UTC(2026, 5, 1, 12);
const zones = ['eu-west-1a', 'eu-west-1b', 'eu-west-1c'];

const masters = (states: string[] = ['InService', 'InService', 'InService'], z = zones): GroupView => ({
  name: 'c-masters',
  desired: states.length,
  targetVersion: '2',
  instances: states.map((s, i) => ({
    instanceId: `i-${i}`,
    zone: z[i % z.length] as string,
    lifecycleState: s,
    health: 'Healthy',
    version: '1',
  })),
});

function status(members: StatusDocument['members'], at = NOW - 30_000): StatusDocument {
  const voters = members.filter((m) => !m.learner);
  const healthy = voters.filter((m) => m.healthy).length;
  const quorum = Math.floor(voters.length / 2) + 1;
  return {
    version: 1,
    cluster: 'c',
    at: new Date(at).toISOString(),
    conditions: {
      etcdReachable: true,
      voters: voters.length,
      healthyVoters: healthy,
      learners: members.length - voters.length,
      quorum,
      quorumMargin: healthy - quorum,
      leaderId: members[0]?.id,
      expectedMasters: 3,
      runningMasters: 3,
      registeredTargets: 3,
      membershipChange: undefined,
      converged: true,
    },
    members,
    zones: {},
    targets: [],
    waits: [],
    lastActions: [],
    memory: { unhealthySince: {} },
  };
}
const healthy3 = () => [0, 1, 2].map((i) => ({ id: `${100 + i}`, name: `i-${i}`, healthy: true }));
const base = (over: Partial<Parameters<typeof preflight>[0]> = {}) =>
  preflight({
    now: NOW,
    masters: masters(),
    workers: undefined,
    status: status(healthy3()),
    expectedMasters: 3,
    zones,
    fromVersion: '1.31.2',
    toVersion: '1.32.0',
    ...over,
  });

describe('Kubernetes version step', () => {
  it.each([
    ['1.31.2', '1.31.5'],
    ['1.31.2', '1.32.0'],
    ['1.31.2', '1.31.2'],
  ])('%s -> %s is allowed', (a, b) => expect(versionStepProblem(a, b)).toBeUndefined());

  it('refuses skipping a minor, naming it', () => {
    expect(versionStepProblem('1.31.4', '1.33.0')).toMatch(/skips Kubernetes 1\.32.*to 1\.32\.x first/);
  });
  it('refuses downgrades (minor and patch)', () => {
    expect(versionStepProblem('1.32.1', '1.31.9')).toMatch(/downgrade/);
    expect(versionStepProblem('1.32.4', '1.32.3')).toMatch(/downgrade/);
  });
  it('refuses major changes and garbage', () => {
    expect(versionStepProblem('1.32.1', '2.0.0')).toMatch(/major/);
    expect(versionStepProblem('1.32', '1.32.1')).toMatch(/not a Kubernetes version/);
  });
});

describe('preflight', () => {
  it('passes a healthy, spread, idle cluster', () => {
    const r = base();
    expect(r.reasons).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.checks.map((c) => c.name)).toEqual([
      'version step',
      'no lifecycle action pending',
      'reconciler status fresh',
      'etcd members healthy',
      'no repair in progress',
      'survives a zone loss',
    ]);
  });

  it('issue 14: the same hold rules as the reconciler: refuses while it waits on a repair, or etcd has no agreed leader', () => {
    const waiting = {
      ...status(healthy3()),
      waits: ['remove 7 (i-9): not safe yet (...)'],
      blocked: [WAIT.quorum],
    };
    expect(base({ status: waiting }).reasons.join('\n')).toMatch(
      /no repair in progress: the reconciler waits on: quorum/,
    );
    const full = { ...status(healthy3()), blocked: [WAIT.databaseFull] };
    expect(base({ status: full }).ok).toBe(false);
    const learnerWait = { ...status(healthy3()), blocked: [WAIT.learner] };
    expect(base({ status: learnerWait }).reasons.join('\n')).not.toMatch(/repair/);
    const leaderless = status(healthy3());
    leaderless.conditions.leaderId = undefined;
    expect(base({ status: leaderless }).reasons.join('\n')).toMatch(
      /no leader a majority of the voters agrees on/,
    );
  });

  it('refuses 1.31 -> 1.33', () => {
    const r = base({ toVersion: '1.33.0' });
    expect(r.ok).toBe(false);
    expect(r.reasons[0]).toMatch(/^version step: .*skips Kubernetes 1\.32/);
  });

  it('refuses an unhealthy member, a learner and an unstarted member', () => {
    const m = healthy3();
    (m[1] as { healthy: boolean }).healthy = false;
    let r = base({ status: status(m) });
    expect(r.reasons.join()).toMatch(/101 \(i-1\) is unhealthy/);
    r = base({ status: status([...healthy3(), { id: '9', name: '', learner: true, healthy: false }]) });
    expect(r.reasons.join()).toMatch(/9 \(unnamed\) is a learner/);
    r = base({ status: status([...healthy3().slice(0, 2), { id: '7', name: '', healthy: false }]) });
    expect(r.reasons.join()).toMatch(/7 \(unnamed\) has not started/);
  });

  it('refuses a pending lifecycle action', () => {
    const r = base({ masters: masters(['InService', 'Pending:Wait', 'InService']) });
    expect(r.reasons.join()).toMatch(/i-1 is Pending:Wait/);
  });

  it('refuses when a zone loss would lose quorum (two masters in one zone)', () => {
    const r = base({ masters: masters(undefined, ['eu-west-1a', 'eu-west-1a', 'eu-west-1c']) });
    expect(r.ok).toBe(false);
    expect(r.reasons.join()).toMatch(/losing eu-west-1a would lose quorum/);
  });

  it('refuses a stale or missing reconciler status', () => {
    expect(base({ status: status(healthy3(), NOW - 20 * 60_000) }).reasons.join()).toMatch(/20 min old/);
    expect(base({ status: undefined }).reasons.join()).toMatch(/no status document/);
  });

  it('refuses a wrong voter count and a member without an InService master', () => {
    expect(base({ status: status(healthy3().slice(0, 2)) }).reasons.join()).toMatch(
      /2 voters, the spec wants 3/,
    );
    const m = healthy3();
    m[2] = { id: '102', name: 'i-zzz', healthy: true };
    expect(base({ status: status(m) }).reasons.join()).toMatch(/i-zzz\) is not on an InService master/);
  });

  it('warns (does not refuse) when the running version is unknown', () => {
    const r = base({ fromVersion: undefined });
    expect(r.ok).toBe(true);
    expect(r.warnings.join()).toMatch(/running Kubernetes version is unknown/);
  });
});
