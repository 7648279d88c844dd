import { describe, expect, it } from 'vitest';
import {
  bootFailureParameter,
  joinParameter,
  restoreParameter,
  statusParameter,
} from '../../src/contract/protocol.js';
import type { Action } from '../../src/heal/actions.js';
import {
  execute,
  executionOrder,
  LEADER_ELECTION_WAIT_MS,
  START_WORK_RESERVE_MS,
  snapshotFailures,
} from '../../src/heal/execute.js';
import { observe } from '../../src/heal/observe.js';
import type { JoinParameters } from '../../src/heal/observed.js';
import { isHealthyVoter } from '../../src/heal/quorum.js';
import { reconcilePass } from '../../src/heal/reconcile.js';
import { buildStatus, parseStatus, STATUS_MAX_CHARS, serializeStatus } from '../../src/heal/status.js';
import { type FakeBackup, type FakeWorld, fakeWorld, ipOf, testConfig } from '../support/fake-ports.js';

const cfg = testConfig();
const idOf = (w: FakeWorld, name: string) => w.ports.etcd.members.find((m) => m.name === name)!.id;

async function run(w: FakeWorld, actions: Action[], config = cfg) {
  const { observed } = await observe(w.ports, config);
  return execute(actions, w.ports, config, observed);
}

/** Kills master k: its etcd process and its instance. */
function kill(w: FakeWorld, k: number) {
  w.ports.etcd.members.find((m) => m.name === `i-${k}`)!.up = false;
  w.ports.fleet.instances.find((i) => i.instanceId === `i-${k}`)!.lifecycleState = 'Terminated';
}
function launch(w: FakeWorld, k: number) {
  w.ports.fleet.instances.push({
    instanceId: `i-${k}`,
    zone: 'eu-west-1c',
    privateIp: ipOf(k),
    lifecycleState: 'Pending:Wait',
    health: 'Healthy',
    launchTime: w.time.now,
  });
}

describe('observe', () => {
  it('needs M+1 etcd calls in a steady pass (list + one status per member), M+2 when status lacks errors', async () => {
    const w = fakeWorld(5);
    const { observed } = await observe(w.ports, testConfig({ expectedMasters: 5 }));
    expect(observed.etcd.members).toHaveLength(5);
    expect(w.ports.etcd.calls).toHaveLength(6);
    w.ports.etcd.calls = [];
    w.ports.etcd.reportErrors = false;
    await observe(w.ports, cfg);
    expect(w.ports.etcd.calls.filter((c) => c.startsWith('alarms'))).toHaveLength(1);
  });

  it('reads alarms when a member reports one, skips a dead endpoint, reads joins and boot failures', async () => {
    const w = fakeWorld(3);
    w.ports.etcd.members[0]!.up = false; // the first endpoint tried
    w.ports.etcd.members[1]!.alarms = ['NOSPACE'];
    // Written by i-3's own role session (report_boot_failure on the master).
    w.ports.parameters.putAs(
      `arn:aws:sts::123456789012:assumed-role/tripod-${cfg.cluster}-master/i-3`,
      bootFailureParameter(cfg.cluster, 'i-3'),
      'kubeadm failed',
    );
    await w.ports.parameters.put(
      joinParameter(cfg.cluster, 'i-3'),
      '{"name":"i-3","initialCluster":"i-3=x","initialClusterState":"new"}',
    );
    await w.ports.parameters.put(joinParameter(cfg.cluster, 'i-4'), 'not json');
    const { observed } = await observe(w.ports, cfg);
    expect(observed.etcd.reachable).toBe(true);
    expect(observed.etcd.members.map((m) => [m.name, m.status.reachable, m.status.alarms])).toEqual([
      ['i-1', false, []],
      ['i-2', true, ['NOSPACE']],
      ['i-3', true, []],
    ]);
    expect(observed.group.instances.map((i) => i.bootFailed)).toEqual([false, false, true]);
    expect(Object.keys(observed.joins)).toEqual(['i-3']);
    expect(observed.restore).toBeUndefined();
    await w.ports.parameters.put(
      restoreParameter(cfg.cluster),
      '{"requestedAt":"2026-01-01T00:00:00Z","seedInstanceId":"i-1"}',
    );
    expect((await observe(w.ports, cfg)).observed.restore).toEqual({
      requestedAt: '2026-01-01T00:00:00Z',
      seedInstanceId: 'i-1',
      unreadable: true, // no snapshot key and SHA-256: no seed can restore from it
    });
    await w.ports.parameters.put(restoreParameter(cfg.cluster), 'garbage');
    expect((await observe(w.ports, cfg)).observed.restore).toEqual({
      requestedAt: 'unknown (unreadable record)',
      unreadable: true,
    });
  });
});

describe('observe: finding 2, what a healthy voter needs', () => {
  it("gathers each member's leader and errors; the leader is the one a majority of the voters names", async () => {
    const w = fakeWorld(3);
    const status = w.ports.etcd.status.bind(w.ports.etcd);
    const cutOff = new Set([`https://${ipOf(3)}:2379`]);
    w.ports.etcd.status = async (ep) => {
      const r = await status(ep);
      // cut off from its peers (2380) but reachable by the reconciler (2379): etcd 3.5 says so
      return cutOff.has(ep) ? { ...r, leaderId: '0', errors: ['etcdserver: no leader'] } : r;
    };
    const { observed } = await observe(w.ports, cfg);
    const m3 = observed.etcd.members.find((m) => m.name === 'i-3')!;
    expect(m3.status).toMatchObject({ reachable: true, leaderId: '0', errors: ['etcdserver: no leader'] });
    expect(observed.etcd.leaderId).toBe(w.ports.etcd.leaderId);
    expect(observed.etcd.members.map((m) => isHealthyVoter(m, observed.etcd))).toEqual([true, true, false]);
    // two of three cut off: no leader a majority names, no healthy voter
    cutOff.add(`https://${ipOf(2)}:2379`);
    const { observed: split } = await observe(w.ports, cfg);
    expect(split.etcd.leaderId).toBeUndefined();
    expect(split.etcd.members.filter((m) => isHealthyVoter(m, split.etcd))).toEqual([]);
  });
});

describe('execute', () => {
  it('treats an already removed member, an existing peer URL and a completed lifecycle action as done', async () => {
    const w = fakeWorld(3);
    launch(w, 4);
    const learner = await w.ports.etcd.addLearner(`https://${ipOf(1)}:2379`, `https://${ipOf(4)}:2380`);
    w.ports.etcd.calls = [];
    const results = await run(w, [
      { kind: 'remove-member', memberId: '424242', name: '', reason: 'gone' },
      { kind: 'add-learner', instanceId: 'i-4', peerURL: `https://${ipOf(4)}:2380`, reason: 'new' },
      {
        kind: 'complete-lifecycle',
        instanceId: 'i-2',
        hook: 'launching',
        result: 'CONTINUE',
        reason: 'ready',
      },
    ]);
    expect(results.map((r) => [r.outcome, r.outcome === 'ok' ? r.detail : ''])).toEqual([
      ['ok', 'already removed'],
      ['ok', `already a member as ${learner.member.id}; join published`],
      ['ok', 'already completed'],
    ]);
    expect(w.ports.etcd.calls.filter((c) => c.startsWith('add') || c.startsWith('remove'))).toEqual([]);
    const join = JSON.parse(
      w.ports.parameters.values.get(joinParameter(cfg.cluster, 'i-4'))!,
    ) as JoinParameters;
    expect(join).toEqual({
      name: 'i-4',
      initialClusterState: 'existing',
      memberId: learner.member.id,
      initialCluster: [1, 2, 3, 4].map((k) => `i-${k}=https://${ipOf(k)}:2380`).join(','),
    });
  });

  it('delete-join removes the join and boot-failure parameters of a gone instance', async () => {
    const w = fakeWorld(3);
    await w.ports.parameters.put(joinParameter(cfg.cluster, 'i-9'), '{}');
    await w.ports.parameters.put(bootFailureParameter(cfg.cluster, 'i-9'), 'failed');
    const [r] = await run(w, [{ kind: 'delete-join', instanceId: 'i-9', reason: 'gone' }]);
    expect(r!.outcome).toBe('ok');
    expect([...w.ports.parameters.values.keys()].filter((k) => k.includes('i-9'))).toEqual([]);
  });

  it('aborts a membership change that is no longer safe on the target membership', async () => {
    const w = fakeWorld(3);
    const { observed } = await observe(w.ports, cfg);
    w.ports.etcd.members[2]!.up = false; // m3 fails after the observation
    const results = await execute(
      [{ kind: 'remove-member', memberId: idOf(w, 'i-2'), name: 'i-2', reason: 'terminating' }],
      w.ports,
      cfg,
      observed,
    );
    expect(results[0]).toMatchObject({
      outcome: 'skipped',
      reason: /no longer safe: would leave 1 healthy of 2 voters/,
    });
    expect(w.ports.etcd.members).toHaveLength(3);
  });

  it('never removes the leader: move leadership first', async () => {
    const w = fakeWorld(3);
    const leader = w.ports.etcd.leaderId!;
    const [bare] = await run(w, [{ kind: 'remove-member', memberId: leader, name: 'i-1', reason: 'x' }]);
    expect(bare).toMatchObject({ outcome: 'skipped', reason: 'it still leads etcd: move leadership first' });
    const results = await run(w, [
      { kind: 'move-leader', fromMemberId: leader, toMemberId: idOf(w, 'i-2'), reason: 'leaving' },
      { kind: 'remove-member', memberId: leader, name: 'i-1', reason: 'terminating' },
    ]);
    expect(results.map((r) => r.outcome)).toEqual(['ok', 'ok']);
    expect(w.ports.etcd.leaderId).toBe(idOf(w, 'i-2'));
    expect(w.ports.etcd.members.map((m) => m.name)).toEqual(['i-2', 'i-3']);
  });

  it('a leader that died: the removal waits (bounded) for the others to elect a new one, then removes it', async () => {
    const w = fakeWorld(3);
    const dead = w.ports.etcd.leaderId!;
    const { observed } = await observe(w.ports, cfg);
    w.ports.etcd.members.find((m) => m.id === dead)!.up = false; // its process is gone; the others still name it
    const slept: number[] = [];
    const electAfterMs = 1_200;
    const ports = {
      ...w.ports,
      clock: {
        now: () => w.time.now,
        sleep: async (ms: number) => {
          slept.push(ms);
          w.time.now += ms;
          if (slept.reduce((a, b) => a + b, 0) >= electAfterMs) w.ports.etcd.leaderId = idOf(w, 'i-2');
        },
      },
    };
    const remove: Action = {
      kind: 'remove-member',
      memberId: dead,
      name: 'i-1',
      reason: 'its instance is terminated',
    };
    const deadEp = w.ports.etcd.members.find((m) => m.id === dead)!.clientURLs[0]!;
    w.ports.etcd.calls = [];
    const [r] = await execute([remove], ports, cfg, observed);
    expect(r).toMatchObject({ outcome: 'ok' });
    // The polls ask only the survivors: the dead leader's address is asked by the two observations
    // (the removal's re-check and the one after the election), not by every poll.
    expect(slept.length).toBeGreaterThan(2);
    expect(w.ports.etcd.calls.filter((c) => c === `status ${deadEp}`)).toHaveLength(2);
    expect(w.ports.etcd.members.map((m) => m.name)).toEqual(['i-2', 'i-3']);
    expect(slept.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(electAfterMs);

    // No election within the bound: skipped as before, after at most LEADER_ELECTION_WAIT_MS.
    const v = fakeWorld(3);
    const gone = v.ports.etcd.leaderId!;
    const seen = (await observe(v.ports, cfg)).observed;
    v.ports.etcd.members.find((m) => m.id === gone)!.up = false;
    let waited = 0;
    const stuck = {
      ...v.ports,
      clock: {
        now: () => v.time.now,
        sleep: async (ms: number) => {
          waited += ms;
          v.time.now += ms;
        },
      },
    };
    const [s] = await execute([{ ...remove, memberId: gone }], stuck, cfg, seen);
    expect(s).toMatchObject({ outcome: 'skipped', reason: 'it still leads etcd: move leadership first' });
    expect(waited).toBeGreaterThan(0);
    expect(waited).toBeLessThanOrEqual(LEADER_ELECTION_WAIT_MS);
    // A leader that still answers is never waited on: leadership is moved (decide's move-leader).
    const u = fakeWorld(3);
    let asked = 0;
    const alive = { ...u.ports, clock: { now: () => u.time.now, sleep: async () => void asked++ } };
    const [t] = await execute(
      [{ ...remove, memberId: u.ports.etcd.leaderId! }],
      alive,
      cfg,
      (await observe(u.ports, cfg)).observed,
    );
    expect(t).toMatchObject({ outcome: 'skipped', reason: 'it still leads etcd: move leadership first' });
    expect(asked).toBe(0);
  });

  it('move-leader answered "not leader" after leadership moved is success', async () => {
    const w = fakeWorld(3);
    const { observed } = await observe(w.ports, cfg);
    const old = w.ports.etcd.leaderId!;
    w.ports.etcd.leaderId = idOf(w, 'i-3');
    const [r] = await execute(
      [{ kind: 'move-leader', fromMemberId: old, toMemberId: idOf(w, 'i-2'), reason: 'x' }],
      w.ports,
      cfg,
      observed,
    );
    expect(r).toMatchObject({ outcome: 'ok', detail: /leadership already moved/ });
  });

  it('turns "learner not in sync" into a wait', async () => {
    const w = fakeWorld(3);
    launch(w, 4);
    const { member } = await w.ports.etcd.addLearner(`https://${ipOf(1)}:2379`, `https://${ipOf(4)}:2380`);
    w.ports.etcd.start(member.id, 'i-4');
    w.ports.etcd.inSync.delete(member.id);
    const [r] = await run(w, [
      { kind: 'promote-member', memberId: member.id, name: 'i-4', reason: 'caught up' },
    ]);
    expect(r).toMatchObject({ outcome: 'skipped', reason: /waiting: .*in sync with leader/ });
  });

  it('finding 5: a failed snapshot never blocks a repair: the removal goes ahead and says so', async () => {
    const w = fakeWorld(3, { backup: true });
    (w.ports.backup as FakeBackup).fail = true;
    kill(w, 3);
    const results = await run(w, [
      { kind: 'snapshot', reason: 'before remove' },
      { kind: 'remove-member', memberId: idOf(w, 'i-3'), name: 'i-3', reason: 'dead' },
      { kind: 'deregister-target', instanceId: 'i-3', reason: 'gone' },
    ]);
    expect(results.map((r) => r.outcome)).toEqual(['failed', 'ok', 'ok']);
    expect(results[1]).toMatchObject({ detail: /went ahead without a snapshot \(S3 AccessDenied\)/ });
    expect(w.ports.etcd.members.map((m) => m.name)).toEqual(['i-1', 'i-2']);
    expect(snapshotFailures(results)).toBe(1);
  });

  it('heartbeats and lifecycle completions run before a snapshot or a membership change (results stay in decide order)', async () => {
    const w = fakeWorld(3, { backup: true });
    w.ports.fleet.instances[1]!.lifecycleState = 'Terminating:Wait';
    const order: string[] = [];
    const backup = w.ports.backup as FakeBackup;
    const snapshot = backup.snapshot.bind(backup);
    backup.snapshot = async (from, reason) => {
      order.push('snapshot');
      return snapshot(from, reason);
    };
    const heartbeat = w.ports.fleet.recordLifecycleHeartbeat.bind(w.ports.fleet);
    w.ports.fleet.recordLifecycleHeartbeat = async (g, id, hook) => {
      order.push(`heartbeat ${id}`);
      return heartbeat(g, id, hook);
    };
    const actions: Action[] = [
      { kind: 'snapshot', reason: 'before remove' },
      { kind: 'remove-member', memberId: idOf(w, 'i-2'), name: 'i-2', reason: 'terminating' },
      { kind: 'heartbeat-lifecycle', instanceId: 'i-2', hook: 'terminating', reason: 'held' },
    ];
    const results = await run(w, actions);
    expect(order).toEqual(['heartbeat i-2', 'snapshot']);
    expect(results.map((r) => r.action)).toEqual(actions);
    expect(executionOrder(actions).map((a) => a.kind)).toEqual([
      'heartbeat-lifecycle',
      'snapshot',
      'remove-member',
    ]);
  });

  it('starts no new work when the invocation is about to end; heartbeats and completions still run', async () => {
    const w = fakeWorld(3);
    kill(w, 3);
    const { observed } = await observe(w.ports, cfg);
    const results = await execute(
      [
        { kind: 'remove-member', memberId: idOf(w, 'i-3'), name: 'i-3', reason: 'dead' },
        { kind: 'heartbeat-lifecycle', instanceId: 'i-2', hook: 'launching', reason: 'x' },
      ],
      w.ports,
      cfg,
      observed,
      { remainingMs: () => START_WORK_RESERVE_MS - 1 },
    );
    expect(results.map((r) => r.outcome)).toEqual(['skipped', 'ok']);
    expect(results[0]).toMatchObject({ reason: /not started: \d+ s left in this invocation/ });
    expect(w.ports.etcd.members).toHaveLength(3);
  });
});

describe('reconcilePass over in-memory ports', () => {
  it('replaces a killed master: remove the dead, add the new as learner, promote, register, complete', async () => {
    const w = fakeWorld(3, { backup: true });
    const config = testConfig({ backupBucket: 'b' });
    kill(w, 3);
    launch(w, 4);
    const p1 = await reconcilePass(w.ports, config);
    expect(
      p1.results
        .filter((r) => r.action.kind !== 'heartbeat-lifecycle')
        .map((r) => [r.action.kind, r.outcome]),
    ).toEqual([
      ['snapshot', 'ok'],
      ['remove-member', 'ok'],
      ['deregister-target', 'ok'],
      ['record-cluster', 'ok'],
    ]);
    const p2 = await reconcilePass(w.ports, config);
    expect(p2.decision.conditions.membershipChange).toBe('add i-4 as a learner');
    const join = JSON.parse(
      w.ports.parameters.values.get(joinParameter(cfg.cluster, 'i-4'))!,
    ) as JoinParameters;
    expect(join.initialCluster).toBe([1, 2, 4].map((k) => `i-${k}=https://${ipOf(k)}:2380`).join(','));
    // The node bootstraps with its join parameters.
    w.ports.etcd.start(join.memberId!, 'i-4');
    const p3 = await reconcilePass(w.ports, config);
    expect(p3.decision.conditions.membershipChange).toBe(`promote ${join.memberId} (i-4)`);
    expect(w.ports.fleet.instances[3]!.lifecycleState).toBe('Pending:Wait');
    w.ports.probe.ready.add(ipOf(4));
    await reconcilePass(w.ports, config);
    expect(w.ports.fleet.completed).toEqual([{ instanceId: 'i-4', hook: 'launching', result: 'CONTINUE' }]);
    expect([...w.ports.loadBalancer.targets.keys()].sort()).toEqual(['i-1', 'i-2', 'i-4']);
    const last = await reconcilePass(w.ports, config);
    expect(last.decision.conditions.converged).toBe(true);
    expect((w.ports.backup as FakeBackup).snapshots).toHaveLength(3);
    // The status document says what happened, and why.
    const status = parseStatus(w.ports.parameters.values.get(statusParameter(cfg.cluster))!)!;
    expect(status.lastActions.map((a) => a.action).join('\n')).toMatch(
      /remove-member \d+ \(i-3\): it has no instance|i-3 is Terminated/,
    );
    expect(status.conditions.quorumMargin).toBe(1);
  });

  it('remembers when a member turned unhealthy across passes (through the status parameter)', async () => {
    const w = fakeWorld(3);
    w.ports.etcd.members[2]!.up = false;
    await reconcilePass(w.ports, cfg);
    w.time.now += 60_000;
    expect((await reconcilePass(w.ports, cfg)).decision.actions).toEqual([]);
    w.time.now += 60_000;
    const p = await reconcilePass(w.ports, cfg);
    expect(p.decision.actions).toMatchObject([{ kind: 'set-unhealthy', instanceId: 'i-3' }]);
    expect(w.ports.fleet.instances[2]!.health).toBe('Unhealthy');
  });

  it('with quorum lost it changes no membership, says why, and still publishes its status', async () => {
    const w = fakeWorld(3);
    w.ports.etcd.members[1]!.up = false;
    w.ports.etcd.members[2]!.up = false;
    const p = await reconcilePass(w.ports, cfg);
    expect(p.observed.etcd.reachable).toBe(false);
    expect(p.decision.actions).toEqual([]);
    expect(p.decision.waits.join('\n')).toMatch(
      /etcd unreachable .*: no membership change \(quorum lost\?\)/,
    );
    expect(
      parseStatus(w.ports.parameters.values.get(statusParameter(cfg.cluster))!)!.conditions.etcdReachable,
    ).toBe(false);
  });

  it('a status that cannot be published is reported, not thrown', async () => {
    const w = fakeWorld(3);
    w.ports.parameters.put = async () => {
      throw new Error('ThrottlingException: Rate exceeded');
    };
    const p = await reconcilePass(w.ports, cfg);
    expect(p.statusError).toBe('ThrottlingException: Rate exceeded');
    expect(p.decision.conditions.converged).toBe(true);
  });

  it('creates a brand-new cluster from one seed', async () => {
    const w = fakeWorld(0);
    for (const k of [1, 2, 3]) launch(w, k);
    const p = await reconcilePass(w.ports, cfg);
    const seed = JSON.parse(
      w.ports.parameters.values.get(joinParameter(cfg.cluster, 'i-1'))!,
    ) as JoinParameters;
    expect(seed).toEqual({
      name: 'i-1',
      initialCluster: `i-1=https://${ipOf(1)}:2380`,
      initialClusterState: 'new',
    });
    expect(w.ports.parameters.values.has(joinParameter(cfg.cluster, 'i-2'))).toBe(false);
    expect(p.decision.waits).toContain("i-2 waits until the seed's member exists");
  });
});

describe('status document', () => {
  it('stays under the SSM limit, dropping the oldest actions first, and keeps the memory', async () => {
    const w = fakeWorld(5);
    const { observed } = await observe(w.ports, cfg);
    const many = Array.from({ length: 40 }, (_, k) => ({
      action: {
        kind: 'register-target' as const,
        instanceId: `i-${k}`,
        reason: 'x'.repeat(400),
      },
      outcome: 'ok' as const,
    }));
    const memory = { unhealthySince: { m9: 5 }, established: true };
    const doc = buildStatus(
      observed,
      { actions: [], waits: ['w'], blocked: [], memory, conditions: {} as never },
      many,
      w.time.now,
    );
    const text = serializeStatus(doc);
    expect(text.length).toBeLessThanOrEqual(STATUS_MAX_CHARS);
    const back = parseStatus(text)!;
    expect(back.memory).toEqual(memory);
    expect(back.lastActions.length).toBeLessThan(10); // trimmed
    expect(back.lastActions.at(-1)!.action).toMatch(/i-39/);
    expect(parseStatus('{"version":2}')).toBeUndefined();
    expect(parseStatus('nope')).toBeUndefined();
  });
});
