import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { clientURL, peerURL } from '../../src/contract/protocol.js';
import { type Action, isMembershipChange } from '../../src/heal/actions.js';
import { decide } from '../../src/heal/decide.js';
import type {
  LifecycleState,
  ObservedInstance,
  ObservedMember,
  ObservedState,
  ReconcilerMemory,
} from '../../src/heal/observed.js';
import { inst, ipOf, member, state, T0, testConfig } from '../support/fake-ports.js';

const NOW = T0 + 3_600_000;

/** Started, reachable, alarm-free voters: who may lead in a generated state. */
const serves = (m: ObservedMember) =>
  !m.isLearner &&
  m.name !== '' &&
  m.clientURLs.length > 0 &&
  m.status.reachable &&
  m.status.alarms.length === 0;

/**
 * Written from the rules, independently of quorum.ts (finding 2): a voter that serves, names the
 * leader the majority agrees on, reports no errors and is in sync by etcd's promotion test (90 %).
 */
const countsHealthy = (m: ObservedMember, etcd: ObservedState['etcd']) =>
  serves(m) &&
  etcd.leaderId !== undefined &&
  (m.status.leaderId === undefined || m.status.leaderId === etcd.leaderId) &&
  (m.status.errors ?? []).length === 0 &&
  (m.status.raftIndex ?? 0) >= 0.9 * (etcd.leaderRaftIndex ?? 0);

const STATES: LifecycleState[] = [
  'Pending:Wait',
  'InService',
  'InService',
  'Terminating:Wait',
  'Terminated',
  'Pending',
];

const arbState = fc
  .record({
    expected: fc.constantFrom(3, 5),
    instances: fc.array(
      fc.record({
        state: fc.constantFrom(...STATES),
        unhealthy: fc.boolean(),
        apiReady: fc.boolean(),
        bootFailed: fc.boolean(),
        age: fc.integer({ min: 0, max: 2_000_000 }),
        member: fc.option(
          fc.record({
            learner: fc.boolean(),
            started: fc.boolean(),
            // Mostly healthy: with even odds too few voters were healthy for a promotion to be safe.
            reachable: fc.constantFrom(true, true, true, false),
            alarm: fc.constantFrom(undefined, undefined, undefined, 'NOSPACE', 'CORRUPT'),
            /** Which leader its status names: the majority's, another one, none. */
            view: fc.constantFrom('agree', 'agree', 'agree', 'agree', 'other', 'none'),
            errors: fc.constantFrom(false, false, false, false, true),
            lag: fc.integer({ min: 0, max: 300 }),
            unhealthyFor: fc.option(fc.integer({ min: 0, max: 300_000 })),
          }),
          { freq: 4 },
        ),
      }),
      { maxLength: 7 },
    ),
    orphans: fc.array(fc.record({ learner: fc.boolean(), started: fc.boolean(), reachable: fc.boolean() }), {
      maxLength: 2,
    }),
    leaderPick: fc.nat(),
    /** The leader just died: the observed leader id still names it (a killed leader). */
    deadLeader: fc.boolean(),
    reachable: fc.boolean(),
    established: fc.boolean(),
    backup: fc.boolean(),
  })
  .map((g): { s: ObservedState; expected: number; backup: boolean } => {
    const instances: ObservedInstance[] = [];
    const members: ObservedMember[] = [];
    const unhealthySince: Record<string, number> = {};
    g.instances.forEach((x, k) => {
      const n = k + 1;
      instances.push(
        inst(n, {
          lifecycleState: x.state,
          health: x.unhealthy ? 'Unhealthy' : 'Healthy',
          apiReady: x.apiReady,
          bootFailed: x.bootFailed,
          launchTime: NOW - x.age,
        }),
      );
      if (x.member) {
        const started = x.member.started || !x.member.learner;
        members.push(
          member(n, {
            isLearner: x.member.learner,
            name: started ? `i-${n}` : '',
            clientURLs: started ? [clientURL(ipOf(n))] : [],
            status: {
              reachable: started && x.member.reachable,
              raftIndex: 1000 - x.member.lag,
              alarms: x.member.alarm ? [x.member.alarm] : [],
              ...(x.member.errors ? { errors: ['etcdserver: some error'] } : {}),
              leaderId: x.member.view,
            },
          }),
        );
        if (x.member.unhealthyFor !== null) unhealthySince[`m${n}`] = NOW - x.member.unhealthyFor;
      }
    });
    g.orphans.forEach((o, k) => {
      const n = 100 + k;
      members.push(
        member(n, {
          isLearner: o.learner,
          name: o.started ? `i-${n}` : '',
          clientURLs: o.started ? [clientURL(ipOf(n))] : [],
          status: { reachable: o.started && o.reachable },
        }),
      );
    });
    const leaders = g.deadLeader
      ? members.filter((m) => !m.isLearner && !m.status.reachable)
      : members.filter(serves);
    const s = state({
      instances,
      members,
      etcdReachable: g.reachable && members.length > 0,
      targets: instances
        .filter((_, k) => k % 2 === 0)
        .map((i) => ({ instanceId: i.instanceId, health: 'healthy' })),
      memory: { unhealthySince, established: g.established },
    });
    s.etcd.leaderId = leaders.length ? leaders[g.leaderPick % leaders.length]!.id : undefined;
    const leader = s.etcd.members.find((m) => m.id === s.etcd.leaderId);
    if (leader?.status.raftIndex !== undefined) s.etcd.leaderRaftIndex = leader.status.raftIndex;
    for (const m of s.etcd.members) {
      const view = m.status.leaderId;
      if (!m.status.reachable) delete m.status.leaderId;
      else m.status.leaderId = view === 'other' ? 'm999' : view === 'none' ? '0' : (s.etcd.leaderId ?? '0');
    }
    return { s, expected: g.expected, backup: g.backup };
  });

describe('decide: properties over generated observed states', () => {
  it('never two membership changes; never below quorum on the target membership; never a healthy non-leaving voter; never the leader without a transfer', () => {
    // How often each branch below ran: a property whose checks never run cannot fail.
    // (add-learner is not counted: these states reach it only about once in 3000.)
    const seen: Record<string, number> = { 'remove-member': 0, 'promote-member': 0 };
    fc.assert(
      fc.property(arbState, ({ s, expected, backup }) => {
        const config = testConfig({ expectedMasters: expected, ...(backup ? { backupBucket: 'b' } : {}) });
        const d = decide(s, config, NOW);
        const changes = d.actions.filter(isMembershipChange);
        expect(changes.length).toBeLessThanOrEqual(1);
        // Abandoning or replacing an instance takes its member down: never one quorum still needs.
        if (s.etcd.reachable) {
          const vs = s.etcd.members.filter((m) => !m.isLearner);
          const hs = vs.filter((m) => countsHealthy(m, s.etcd));
          for (const a of d.actions) {
            const takesDown =
              (a.kind === 'complete-lifecycle' && a.result === 'ABANDON') || a.kind === 'set-unhealthy';
            const m = takesDown ? s.etcd.members.find((x) => x.name === a.instanceId) : undefined;
            // A launch ABANDON terminates the instance with no terminating hook: never while its member votes.
            if (a.kind === 'complete-lifecycle' && a.result === 'ABANDON')
              expect(m?.isLearner ?? true).toBe(true);
            if (m && countsHealthy(m, s.etcd)) {
              expect(hs.length - 1).toBeGreaterThanOrEqual(Math.floor((vs.length - 1) / 2) + 1);
            }
          }
        }
        const c = changes[0];
        if (!c) return;
        if (c.kind in seen) seen[c.kind]!++;
        expect(s.etcd.reachable).toBe(true);
        const ms = s.etcd.members;
        const voters = ms.filter((m) => !m.isLearner);
        const healthy = voters.filter((m) => countsHealthy(m, s.etcd));
        // the cluster has quorum now
        expect(healthy.length).toBeGreaterThanOrEqual(Math.floor(voters.length / 2) + 1);
        let votersAfter = voters.length;
        let healthyAfter = healthy.length;
        if (c.kind === 'remove-member') {
          const m = ms.find((x) => x.id === c.memberId)!;
          expect(ms.length).toBeGreaterThan(1);
          if (!m.isLearner) {
            votersAfter--;
            if (countsHealthy(m, s.etcd)) {
              healthyAfter--;
              // a healthy voter goes only with its instance: terminating, or a failed launch (removed before ABANDON)
              const owner = s.group.instances.find((i) => i.instanceId === m.name);
              const failedLaunch = owner?.lifecycleState === 'Pending:Wait' && owner.bootFailed;
              expect(owner?.lifecycleState === 'Terminating:Wait' || failedLaunch).toBe(true);
            }
          }
          // A live leader hands leadership over first; a dead one is removed directly (etcd re-elects).
          if (m.id === s.etcd.leaderId && m.status.reachable) {
            const k = d.actions.indexOf(c);
            expect(
              d.actions.slice(0, k).some((a) => a.kind === 'move-leader' && a.fromMemberId === m.id),
            ).toBe(true);
          }
        } else if (c.kind === 'promote-member') {
          votersAfter++;
          healthyAfter++;
        } else {
          expect(ms.some((m) => m.isLearner)).toBe(false); // one learner at a time
          expect(healthy.length).toBe(voters.length); // strict reconfig: no dead voter when adding
        }
        expect(healthyAfter).toBeGreaterThanOrEqual(Math.floor(votersAfter / 2) + 1);
        // rule 10: snapshot right before the change when backups are on
        if (backup) expect(d.actions[d.actions.indexOf(c) - 1]?.kind).toBe('snapshot');
        for (const a of d.actions) expect(a.reason.length).toBeGreaterThan(0);
      }),
      { numRuns: 6000 },
    );
    for (const [kind, n] of Object.entries(seen))
      expect(n, `generated states leading to ${kind}`).toBeGreaterThan(0);
  });

  it('is deterministic', () => {
    fc.assert(
      fc.property(arbState, ({ s, expected }) => {
        const config = testConfig({ expectedMasters: expected });
        expect(decide(structuredClone(s), config, NOW)).toEqual(decide(s, config, NOW));
      }),
      { numRuns: 300 },
    );
  });
});

// ---- A tiny world that applies the actions, for convergence ---------------------------------

interface World {
  t: number;
  next: number;
  expected: number;
  instances: ObservedInstance[];
  members: ObservedMember[];
  leaderId: string | undefined;
  targets: Set<string>;
  joins: ObservedState['joins'];
  memory: ReconcilerMemory;
  log: string[];
}

function observeWorld(w: World): ObservedState {
  const healthy = w.members.filter(serves);
  const voters = w.members.filter((m) => !m.isLearner);
  const reachable = healthy.length >= Math.floor(voters.length / 2) + 1 && voters.length > 0;
  if (!reachable || !healthy.some((m) => m.id === w.leaderId)) w.leaderId = healthy[0]?.id;
  return structuredClone(
    state({
      instances: w.instances,
      members: w.members,
      etcdReachable: reachable,
      leaderId: w.leaderId,
      targets: [...w.targets].map((instanceId) => ({ instanceId, health: 'healthy' as const })),
      joins: w.joins,
      memory: w.memory,
    }),
  );
}

function launch(w: World) {
  const n = w.next++;
  w.instances.push(inst(n, { lifecycleState: 'Pending:Wait', apiReady: false, launchTime: w.t }));
}

function apply(w: World, a: Action) {
  w.log.push(a.kind + ('instanceId' in a ? ` ${a.instanceId}` : 'memberId' in a ? ` ${a.memberId}` : ''));
  const byInstance = (id: string) => w.instances.find((i) => i.instanceId === id);
  switch (a.kind) {
    case 'add-learner': {
      const n = Number(a.instanceId.slice(2));
      w.members.push({
        ...member(n, { isLearner: true, name: '', clientURLs: [] }),
        status: { reachable: false, alarms: [] },
      });
      w.joins[a.instanceId] = {
        name: a.instanceId,
        initialCluster: 'x',
        initialClusterState: 'existing',
        memberId: `m${n}`,
      };
      break;
    }
    case 'promote-member':
      w.members.find((m) => m.id === a.memberId)!.isLearner = false;
      break;
    case 'remove-member':
      w.members = w.members.filter((m) => m.id !== a.memberId);
      break;
    case 'move-leader':
      w.leaderId = a.toMemberId;
      break;
    case 'publish-join':
      w.joins[a.instanceId] = a.params;
      break;
    case 'delete-join':
      delete w.joins[a.instanceId];
      break;
    case 'register-target':
      w.targets.add(a.instanceId);
      break;
    case 'deregister-target':
      w.targets.delete(a.instanceId);
      break;
    case 'complete-lifecycle': {
      const i = byInstance(a.instanceId)!;
      i.lifecycleState = a.hook === 'launching' && a.result === 'CONTINUE' ? 'InService' : 'Terminated';
      break;
    }
    case 'set-unhealthy':
      byInstance(a.instanceId)!.health = 'Unhealthy';
      break;
    case 'snapshot':
    case 'heartbeat-lifecycle':
      break;
  }
}

/** The rest of the world moves: nodes boot with their join, the group replaces and keeps its size. */
function progress(w: World) {
  for (const i of w.instances) {
    const n = Number(i.instanceId.slice(2));
    const join = w.joins[i.instanceId];
    if (i.lifecycleState !== 'Pending:Wait' || !join) continue;
    const m = w.members.find((x) => x.peerURLs[0] === peerURL(i.privateIp!));
    if (!m && join.initialClusterState === 'new' && w.members.length === 0) {
      w.members.push(member(n));
      w.leaderId = `m${n}`;
    } else if (m && m.name === '') {
      Object.assign(m, member(n, { isLearner: true }));
    } else if (m && serves(m)) {
      i.apiReady = true;
    }
  }
  for (const i of w.instances) {
    if (i.health === 'Unhealthy' && i.lifecycleState === 'InService') i.lifecycleState = 'Terminating:Wait';
  }
  w.instances = w.instances.filter((i) => i.lifecycleState !== 'Terminated');
  const live = w.instances.filter((i) => i.lifecycleState !== 'Terminating:Wait').length;
  for (let k = live; k < w.expected; k++) launch(w);
}

const arbWorld = fc.record({
  expected: fc.constantFrom(3, 5),
  fresh: fc.boolean(),
  faults: fc.array(fc.constantFrom('kill', 'terminate', 'partition', 'stray-learner', 'alarm'), {
    maxLength: 2,
  }),
});

describe('decide: a stable world converges', () => {
  it('iterated passes bring members == running masters, all voters healthy, all registered', () => {
    fc.assert(
      fc.property(arbWorld, ({ expected, fresh, faults }) => {
        const w: World = {
          t: NOW,
          next: expected + 1,
          expected,
          instances: [],
          members: [],
          leaderId: undefined,
          targets: new Set(),
          joins: {},
          memory: { unhealthySince: {} },
          log: [],
        };
        const config = testConfig({ expectedMasters: expected });
        if (fresh) {
          for (let k = 0; k < expected; k++) launch(w);
        } else {
          for (let n = 1; n <= expected; n++) {
            w.instances.push(inst(n));
            w.members.push(member(n));
            w.targets.add(`i-${n}`);
          }
          w.leaderId = 'm1';
          w.memory.established = true;
          // at most (M-1)/2 faults: the cluster keeps quorum and can heal on its own
          faults.slice(0, (expected - 1) / 2).forEach((f, k) => {
            const n = k + 1; // m1 leads: faults hit the leader first
            const i = w.instances.find((x) => x.instanceId === `i-${n}`)!;
            const m = w.members.find((x) => x.id === `m${n}`)!;
            if (f === 'kill') {
              i.lifecycleState = 'Terminated';
              m.status = { reachable: false, alarms: [] };
            } else if (f === 'terminate') i.lifecycleState = 'Terminating:Wait';
            else if (f === 'partition') m.status = { reachable: false, alarms: [] };
            else if (f === 'alarm') m.status = { ...m.status, alarms: ['CORRUPT'] };
            else w.members.push({ ...member(90 + k, { isLearner: true, name: '', clientURLs: [] }) });
          });
          // a partitioned/alarmed member never comes back on its own: only replacement heals it
          progress(w);
        }
        for (let pass = 0; pass < 80; pass++) {
          const d = decide(observeWorld(w), config, w.t);
          if (d.conditions.converged) {
            expect(w.members.every((m) => !m.isLearner && serves(m))).toBe(true);
            expect(w.members.map((m) => m.name).sort()).toEqual(w.instances.map((i) => i.instanceId).sort());
            expect([...w.targets].sort()).toEqual(w.instances.map((i) => i.instanceId).sort());
            return;
          }
          w.memory = d.memory;
          for (const a of d.actions) apply(w, a);
          // the members of terminated instances stop answering
          for (const m of w.members) {
            if (
              m.name &&
              !w.instances.some((i) => i.instanceId === m.name && i.lifecycleState !== 'Terminated')
            ) {
              m.status = { reachable: false, alarms: [] };
            }
          }
          progress(w);
          w.t += 30_000;
        }
        throw new Error(`did not converge in 80 passes:\n${w.log.join('\n')}`);
      }),
      { numRuns: 300 },
    );
  });
});
