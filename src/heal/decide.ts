/**
 * The healing decisions: a pure, deterministic function of what one pass observed, the config and
 * the time. At most ONE etcd membership change per pass, always checked on the target membership
 * (quorum.ts); everything else (target registration, lifecycle completion, heartbeats) may be
 * several per pass. Priorities follow issue 5:
 *   1 a Terminating:Wait master: move leadership off, deregister, remove its member, then complete
 *   2 members with no live instance (dead before new)   3 stray learners / unnamed members
 *   4 add a Pending:Wait master as a learner             5 promote a caught-up learner
 *   6 register a ready voter + complete CONTINUE; ABANDON a failed or timed-out Pending:Wait master
 *   7 target-group consistency                           8 mark a long-unhealthy member's instance Unhealthy
 *   9 brand-new cluster: one seed, the others wait for its member
 */
import type { Action, LifecycleHook } from './actions.js';
import type { ReconcilerConfig } from './config.js';
import type { ClusterConditions, Decision } from './decision.js';
import type { ObservedInstance, ObservedMember, ObservedState, ReconcilerMemory } from './observed.js';
import { checkChange, isHealthyVoter, isStarted, type MembershipChange, quorumOf } from './quorum.js';
import { buildRoster, instancePeerURL, isGone, isRunning, joinParametersFor } from './roster.js';

const MAX_JOIN_DELETES_PER_PASS = 5;
/** etcd promotes a learner only when its raft index is at least this share of the leader's. */
const LEARNER_READY_SHARE = 0.9;

/** Memory key for an InService master that has no etcd member at all. */
export const memberlessKey = (instanceId: string) => `instance:${instanceId}`;

const byLaunchThenId = (a: ObservedInstance, b: ObservedInstance) =>
  a.launchTime - b.launchTime || a.instanceId.localeCompare(b.instanceId);
const byId = <T extends { id: string }>(a: T, b: T) => a.id.localeCompare(b.id);
const byInstanceId = (a: ObservedInstance, b: ObservedInstance) => a.instanceId.localeCompare(b.instanceId);
const label = (m: ObservedMember) => `${m.id} (${m.name || 'unnamed'})`;

export function decide(observed: ObservedState, config: ReconcilerConfig, now: number): Decision {
  const { etcd } = observed;
  const instances = [...observed.group.instances].sort(byInstanceId);
  const members = [...etcd.members].sort(byId);
  const roster = buildRoster(instances, members, config);
  const actions: Action[] = [];
  const waits: string[] = [];
  const registered = new Set(
    observed.targets.filter((t) => t.health !== 'draining').map((t) => t.instanceId),
  );
  const voters = members.filter((m) => !m.isLearner);
  const healthyVoters = voters.filter(isHealthyVoter);
  const learners = members.filter((m) => m.isLearner);
  const memory = nextMemory(observed, instances, members, roster, now);
  const longUnhealthy = (key: string) => {
    const since = memory.unhealthySince[key];
    return since !== undefined && now - since >= config.memberUnhealthyMs;
  };

  /** Lifecycle actions already settled this pass (completed or abandoned): no heartbeat for them. */
  const settled = new Set<string>();
  const heartbeat = new Map<string, { hook: LifecycleHook; reason: string }>();
  const deregistered = new Set<string>();
  let change: string | undefined;

  /** Claims the pass's one membership change if it is safe on the target membership. */
  const tryChange = (mc: MembershipChange, action: Action, what: string): boolean => {
    if (change !== undefined) {
      waits.push(`${what}: after this pass's membership change (${change})`);
      return false;
    }
    if (observed.restore) {
      waits.push(`${what}: a restore is in progress (requested ${observed.restore.requestedAt})`);
      return false;
    }
    if (!etcd.reachable) {
      waits.push(`${what}: etcd is unreachable`);
      return false;
    }
    if (etcd.leaderId === undefined) {
      waits.push(`${what}: etcd has no leader (election in progress?)`);
      return false;
    }
    const verdict = checkChange(members, mc);
    if (!verdict.safe) {
      waits.push(`${what}: not safe yet (${verdict.reason})`);
      return false;
    }
    change = what;
    if (config.backupBucket !== undefined) actions.push({ kind: 'snapshot', reason: `before ${what}` });
    actions.push({ ...action, reason: `${action.reason} (${verdict.reason})` } as Action);
    return true;
  };
  /** Completes (or abandons) a lifecycle action: settled for this pass, so it gets no heartbeat. */
  const complete = (
    instanceId: string,
    hook: LifecycleHook,
    result: 'CONTINUE' | 'ABANDON',
    reason: string,
  ) => {
    settled.add(instanceId);
    actions.push({ kind: 'complete-lifecycle', instanceId, hook, result, reason });
  };
  const deregister = (instanceId: string, reason: string) => {
    if (!registered.has(instanceId) || deregistered.has(instanceId)) return;
    deregistered.add(instanceId);
    actions.push({ kind: 'deregister-target', instanceId, reason });
  };

  // 1. Terminating:Wait masters.
  for (const inst of instances.filter((i) => i.lifecycleState === 'Terminating:Wait')) {
    const id = inst.instanceId;
    deregister(id, 'the instance is terminating');
    if (observed.restore) {
      complete(id, 'terminating', 'CONTINUE', 'a restore replaces the old cluster: its members are let go');
      continue;
    }
    if (!etcd.reachable) {
      if (!memory.established) {
        complete(id, 'terminating', 'CONTINUE', 'terminating before any cluster existed');
      } else {
        waits.push(`${id} terminating: etcd unreachable, its member cannot be removed`);
      }
      continue;
    }
    const m = roster.memberOf(inst);
    if (!m) {
      complete(id, 'terminating', 'CONTINUE', 'its etcd member is removed');
      continue;
    }
    let leaderMoved = true;
    // A dead leader (its instance stopped, its member unreachable) cannot hand leadership over: the
    // move would fail (connection refused) and delay the removal. Etcd elects a new leader by itself.
    const leaderDead = m.id === etcd.leaderId && !m.status.reachable;
    if (m.id === etcd.leaderId && !leaderDead) {
      const successor = healthyVoters
        .filter((v) => v.id !== m.id && roster.instanceOf(v)?.lifecycleState !== 'Terminating:Wait')
        .sort((a, b) => (b.status.raftIndex ?? 0) - (a.status.raftIndex ?? 0) || byId(a, b))[0];
      if (successor) {
        actions.push({
          kind: 'move-leader',
          fromMemberId: m.id,
          toMemberId: successor.id,
          reason: `leader ${id} is terminating`,
        });
      } else {
        leaderMoved = false;
        waits.push(`${id} terminating: it leads etcd and no healthy voter can take over`);
      }
    }
    const removed =
      leaderMoved &&
      tryChange(
        { kind: 'remove', memberId: m.id },
        {
          kind: 'remove-member',
          memberId: m.id,
          name: m.name,
          reason: `its instance ${id} is terminating${leaderDead ? ' (a dead leader: no leader move)' : ''}`,
        },
        `remove ${label(m)}`,
      );
    if (!removed) heartbeat.set(id, { hook: 'terminating', reason: `member ${label(m)} not removed yet` });
  }

  // 2 + 3. Members with no live instance: dead voters first, then stray learners and unnamed members.
  if (etcd.reachable) {
    const strays: Array<{ m: ObservedMember; why: string }> = [];
    for (const m of members) {
      const inst = roster.instanceOf(m);
      if (inst?.lifecycleState === 'Terminating:Wait') continue; // priority 1
      if (isGone(inst)) {
        const why = inst ? `its instance ${inst.instanceId} is ${inst.lifecycleState}` : 'it has no instance';
        if (isHealthyVoter(m)) waits.push(`member ${label(m)} is healthy but ${why}: left alone`);
        else strays.push({ m, why: m.isLearner || !isStarted(m) ? `stray learner: ${why}` : why });
      } else if (
        inst &&
        inst.health === 'Unhealthy' &&
        !m.isLearner &&
        !isHealthyVoter(m) &&
        longUnhealthy(m.id)
      ) {
        strays.push({
          m,
          why: `unhealthy past the threshold and its instance ${inst.instanceId} is marked Unhealthy`,
        });
      }
    }
    strays.sort((a, b) => Number(a.m.isLearner) - Number(b.m.isLearner) || byId(a.m, b.m));
    for (const { m, why } of strays) {
      tryChange(
        { kind: 'remove', memberId: m.id },
        { kind: 'remove-member', memberId: m.id, name: m.name, reason: why },
        `remove ${label(m)}`,
      );
    }
  }

  // 4-6. Pending:Wait masters: abandon the failed, add one as a learner, publish joins, promote, complete.
  const pending = instances.filter((i) => i.lifecycleState === 'Pending:Wait').sort(byLaunchThenId);
  for (const inst of pending) {
    const id = inst.instanceId;
    const m = etcd.reachable ? roster.memberOf(inst) : undefined;
    const ready = m !== undefined && isHealthyVoter(m) && inst.apiReady;
    const seen = memory.pendingSince?.[id] ?? now;
    const bootStart = Math.max(inst.launchTime, seen);
    if (!ready && (inst.bootFailed || now - bootStart >= config.bootTimeoutMs)) {
      // Abandoning terminates the instance: never when its member is a voter quorum still needs.
      if (m !== undefined && isHealthyVoter(m)) {
        const verdict = checkChange(members, { kind: 'remove', memberId: m.id });
        if (!verdict.safe) {
          waits.push(
            `${id}: not abandoned, its member ${label(m)} votes and quorum needs it (${verdict.reason})`,
          );
          continue;
        }
      }
      complete(
        id,
        'launching',
        'ABANDON',
        inst.bootFailed
          ? 'its bootstrap failed'
          : `not ready ${Math.round((now - bootStart) / 1000)} s after ${bootStart === inst.launchTime ? 'launch' : 'the reconciler first saw it'}`,
      );
      deregister(id, 'abandoned');
    }
  }
  const established = memory.established === true;
  if (etcd.reachable) {
    // Promote a caught-up learner (5) before anything else can be added: one learner at a time.
    for (const l of learners) {
      const inst = roster.instanceOf(l);
      if (!inst || isGone(inst) || settled.has(inst.instanceId)) continue;
      if (!isStarted(l) || !l.status.reachable) {
        waits.push(`learner ${label(l)} to start`);
        continue;
      }
      const lag = (etcd.leaderRaftIndex ?? Number.POSITIVE_INFINITY) - (l.status.raftIndex ?? 0);
      // etcd's own test too: the learner has at least 90 % of the leader's index (early in a cluster's
      // life, when indexes are small, that is stricter than the lag bound).
      const inSync = (l.status.raftIndex ?? 0) >= LEARNER_READY_SHARE * (etcd.leaderRaftIndex ?? 0);
      if (lag > config.learnerMaxLag || !inSync) {
        waits.push(
          `learner ${label(l)} to catch up (${Number.isFinite(lag) ? `${lag} entries behind` : 'no leader index'})`,
        );
        continue;
      }
      tryChange(
        { kind: 'promote', memberId: l.id },
        { kind: 'promote-member', memberId: l.id, name: l.name, reason: `learner caught up (lag ${lag})` },
        `promote ${label(l)}`,
      );
    }
    const size = members.length;
    for (const inst of pending) {
      const id = inst.instanceId;
      if (settled.has(id)) continue;
      const m = roster.memberOf(inst);
      if (!m) {
        const url = instancePeerURL(inst, config);
        const holder = url === undefined ? undefined : members.find((x) => x.peerURLs.includes(url));
        if (url === undefined) {
          waits.push(`${id} to get a private IP`);
        } else if (holder) {
          // The IP was reused: the member of a gone instance still holds the peer URL.
          waits.push(`${id}: its peer URL is still held by member ${label(holder)}, which must go first`);
        } else if (size >= config.expectedMasters + 1) {
          waits.push(
            `${id}: ${size} members already (at most ${config.expectedMasters + 1} while replacing)`,
          );
        } else {
          tryChange(
            { kind: 'add-learner', peerURL: url },
            { kind: 'add-learner', instanceId: id, peerURL: url, reason: `new master ${id} in ${inst.zone}` },
            `add ${id} as a learner`,
          );
        }
        heartbeat.set(id, { hook: 'launching', reason: 'waiting to join etcd' });
        continue;
      }
      if (observed.joins[id] === undefined && m.isLearner) {
        actions.push({
          kind: 'publish-join',
          instanceId: id,
          params: joinParametersFor(id, m.id, members),
          reason: 'its learner exists but its join parameters are missing',
        });
      }
      if (isHealthyVoter(m) && inst.apiReady) {
        if (!registered.has(id)) {
          actions.push({
            kind: 'register-target',
            instanceId: id,
            reason: 'its etcd member votes and its API is ready',
          });
        }
        complete(id, 'launching', 'CONTINUE', 'etcd voter and API ready');
        continue;
      }
      const waitingFor = m.isLearner
        ? 'its learner to be promoted'
        : isHealthyVoter(m)
          ? 'its API server /readyz'
          : 'its member to be healthy';
      waits.push(`${id}: ${waitingFor}`);
      heartbeat.set(id, { hook: 'launching', reason: `waiting for ${waitingFor}` });
    }
  } else if (
    !established &&
    !instances.some((i) => i.lifecycleState === 'InService') &&
    !hasExistingJoin(observed)
  ) {
    // 9. A brand-new cluster: one seed creates it, the others wait for its member.
    const candidates = pending.filter((i) => !settled.has(i.instanceId) && i.privateIp !== undefined);
    const seed =
      candidates.find((i) => i.instanceId === memory.seedInstanceId) ??
      candidates[0 /* sorted by launch, id */];
    if (seed) {
      memory.seedInstanceId = seed.instanceId;
      const url = instancePeerURL(seed, config)!;
      const published = observed.joins[seed.instanceId];
      if (published?.initialClusterState !== 'new') {
        actions.push({
          kind: 'publish-join',
          instanceId: seed.instanceId,
          params: {
            name: seed.instanceId,
            initialCluster: `${seed.instanceId}=${url}`,
            initialClusterState: 'new',
          },
          reason: 'seed of a brand-new cluster (earliest launched master)',
        });
      }
      waits.push(`the seed ${seed.instanceId} to start etcd`);
      for (const i of pending) {
        if (settled.has(i.instanceId)) continue;
        if (i !== seed) waits.push(`${i.instanceId} waits until the seed's member exists`);
        heartbeat.set(i.instanceId, {
          hook: 'launching',
          reason: i === seed ? 'seeding etcd' : 'waiting for the seed',
        });
      }
    } else if (pending.length === 0) {
      waits.push('a master to launch (brand-new cluster)');
    }
  } else {
    waits.push(
      `etcd unreachable${etcd.error ? ` (${etcd.error})` : ''}: no membership change (quorum lost?)`,
    );
  }

  // 7. Target-group consistency.
  for (const inst of instances) {
    if (inst.lifecycleState === 'InService' && inst.apiReady && !registered.has(inst.instanceId)) {
      actions.push({
        kind: 'register-target',
        instanceId: inst.instanceId,
        reason: 'InService master with a ready API is missing',
      });
    }
  }
  const instanceById = new Map(instances.map((i) => [i.instanceId, i]));
  for (const t of [...observed.targets].sort((a, b) => a.instanceId.localeCompare(b.instanceId))) {
    const inst = instanceById.get(t.instanceId);
    const keep =
      inst !== undefined &&
      (inst.lifecycleState === 'InService' ||
        inst.lifecycleState === 'Pending:Wait' ||
        inst.lifecycleState === 'Pending:Proceed');
    if (!keep)
      deregister(t.instanceId, inst ? `the instance is ${inst.lifecycleState}` : 'not a master of the group');
  }

  // 8. A running master whose member stays unhealthy: let the group replace it, when quorum is not at risk.
  if (etcd.reachable && established && !observed.restore) {
    // A replacement in progress: an instance marked Unhealthy or leaving, or a learner joining. A new
    // master still waiting to be added is not one: it waits for this very member to go (rule 2).
    const replacing = instances.some(
      (i) => i.health === 'Unhealthy' || i.lifecycleState === 'Terminating:Wait',
    );
    const quorumHeld = healthyVoters.length >= quorumOf(voters.length);
    for (const inst of instances.filter((i) => i.lifecycleState === 'InService' && i.health === 'Healthy')) {
      const m = roster.memberOf(inst);
      const key = m ? m.id : memberlessKey(inst.instanceId);
      if ((m && (m.isLearner || isHealthyVoter(m))) || !longUnhealthy(key)) continue;
      const what = m ? `member ${label(m)} unhealthy` : 'no etcd member';
      if (replacing || learners.length > 0 || change !== undefined) {
        waits.push(`replace ${inst.instanceId} (${what}): after the replacement in progress`);
      } else if (!quorumHeld) {
        waits.push(`replace ${inst.instanceId} (${what}): quorum is lost, replacing could lose data`);
      } else {
        actions.push({
          kind: 'set-unhealthy',
          instanceId: inst.instanceId,
          reason: `${what} for more than ${Math.round(config.memberUnhealthyMs / 1000)} s`,
        });
        break; // one replacement at a time
      }
    }
  }

  // Join parameters of instances that are gone (a few per pass: SSM calls stay bounded).
  const gone = Object.keys(observed.joins)
    .filter((id) => isGone(instanceById.get(id)))
    .sort()
    .slice(0, MAX_JOIN_DELETES_PER_PASS);
  for (const instanceId of gone) {
    const i = instanceById.get(instanceId);
    actions.push({
      kind: 'delete-join',
      instanceId,
      reason: i ? `the instance is ${i.lifecycleState}` : 'the instance left the group',
    });
  }

  for (const [instanceId, { hook, reason }] of [...heartbeat].sort((a, b) => a[0].localeCompare(b[0]))) {
    if (!settled.has(instanceId)) actions.push({ kind: 'heartbeat-lifecycle', instanceId, hook, reason });
  }

  const quorum = etcd.reachable ? quorumOf(voters.length) : 0;
  const running = instances.filter(isRunning);
  const conditions: ClusterConditions = {
    etcdReachable: etcd.reachable,
    voters: voters.length,
    healthyVoters: healthyVoters.length,
    learners: learners.length,
    quorum,
    quorumMargin: healthyVoters.length - quorum,
    leaderId: etcd.leaderId,
    expectedMasters: config.expectedMasters,
    runningMasters: running.length,
    registeredTargets: registered.size,
    membershipChange: change,
    converged: false,
  };
  conditions.converged =
    etcd.reachable &&
    actions.length === 0 &&
    learners.length === 0 &&
    voters.length === config.expectedMasters &&
    healthyVoters.length === voters.length &&
    running.length === voters.length &&
    running.every(
      (i) => i.lifecycleState === 'InService' && registered.has(i.instanceId) && roster.memberOf(i),
    );
  return { actions, waits, memory, conditions };
}

const hasExistingJoin = (o: ObservedState) =>
  Object.values(o.joins).some((j) => j.initialClusterState === 'existing');

/** Debounce bookkeeping (rule 7): when each unhealthy voter, or memberless InService master, was first seen so. */
function nextMemory(
  observed: ObservedState,
  instances: readonly ObservedInstance[],
  members: readonly ObservedMember[],
  roster: ReturnType<typeof buildRoster>,
  now: number,
): ReconcilerMemory {
  const prev = observed.memory;
  const established = prev.established === true || (observed.etcd.reachable && members.some(isHealthyVoter));
  const memory: ReconcilerMemory = { unhealthySince: {} };
  if (prev.seedInstanceId !== undefined && !established) memory.seedInstanceId = prev.seedInstanceId;
  if (established) memory.established = true;
  const pendingSince = Object.fromEntries(
    instances
      .filter((i) => i.lifecycleState === 'Pending:Wait')
      .map((i) => [i.instanceId, prev.pendingSince?.[i.instanceId] ?? now]),
  );
  if (Object.keys(pendingSince).length) memory.pendingSince = pendingSince;
  if (!observed.etcd.reachable) {
    // Nothing is known about members this pass: keep what earlier passes saw.
    memory.unhealthySince = { ...prev.unhealthySince };
    return memory;
  }
  for (const m of members) {
    if (!m.isLearner && !isHealthyVoter(m)) memory.unhealthySince[m.id] = prev.unhealthySince[m.id] ?? now;
  }
  for (const i of instances) {
    if (i.lifecycleState === 'InService' && !roster.memberOf(i)) {
      const key = memberlessKey(i.instanceId);
      memory.unhealthySince[key] = prev.unhealthySince[key] ?? now;
    }
  }
  return memory;
}
