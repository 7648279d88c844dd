/**
 * The healing decisions: a pure, deterministic function of what one pass observed, the config and
 * the time. At most ONE etcd membership change per pass, always checked on the target membership
 * (quorum.ts); everything else (target registration, lifecycle completion, heartbeats) may be
 * several per pass. The pass runs in phases (phases/*.ts, sharing one Pass builder), in priority order:
 *   restore   while a restore record exists (phases/restore.ts)
 *   warm      warm pool instances: never masters; a failed prepare is abandoned, a pool termination let go (phases/warm.ts)
 *   1 terminating  a Terminating:Wait master: move leadership off, deregister, remove its member,
 *                  then complete; its hook is held while its member exists (or etcd cannot tell)
 *   2-3 strays     members with no live instance (dead before new), stray learners, unnamed members
 *   6 abandon      a failed or timed-out Pending:Wait master (its voter removed first)
 *   4-6 joins      promote a caught-up learner, add one new master as a learner, complete the ready
 *   9 seed         brand-new cluster: one seed, the others wait for its member
 *   7 targets      target-group consistency
 *   8 replacement  mark a long-unhealthy member's instance Unhealthy (the safe order when blocked)
 */
import type { LifecycleHook } from './actions.js';
import type { ReconcilerConfig } from './config.js';
import type { ClusterConditions, Decision } from './decision.js';
import type { ObservedState, ReconcilerMemory } from './observed.js';
import { abandonPhase, holdWhileUnreachablePhase, joinsPhase, seedPhase } from './phases/joins.js';
import { Pass } from './phases/pass.js';
import { memberlessKey, recentReplacements, replacementPhase } from './phases/replacement.js';
import { assessQuorum, decideRestore, nextQuorumMemory } from './phases/restore.js';
import { straysPhase } from './phases/strays.js';
import { forgetJoinsPhase, targetsPhase } from './phases/targets.js';
import { terminatingPhase } from './phases/terminating.js';
import { warmPhase } from './phases/warm.js';
import { quorumOf } from './quorum.js';
import { isRunning } from './roster.js';

export { WAIT, type Wait, type WaitReason } from './phases/pass.js';
export { memberlessKey };

export function decide(observed: ObservedState, config: ReconcilerConfig, now: number): Decision {
  const p = new Pass(observed, config, now, nextMemory);
  const established = isEstablished(observed, p.memory);

  const quorum = assessQuorum(observed);
  p.memory.quorum = nextQuorumMemory(observed.memory.quorum, quorum, now);
  const restore = decideRestore(observed, config, quorum, now);
  if (restore) {
    for (const id of restore.settled) p.settled.add(id);
    for (const id of restore.handledTerminating) p.handled.add(id);
    p.actions.push(...restore.actions);
    for (const message of restore.waits) p.wait('restore', message);
    if (restore.memory) p.memory.restore = restore.memory;
  }

  warmPhase(p, established);
  terminatingPhase(p, established, p.handled);
  straysPhase(p);
  abandonPhase(p, established, restore?.protectedPending ?? new Set());
  if (p.reachable) {
    joinsPhase(p);
  } else if (
    !established &&
    !p.instances.some((i) => i.lifecycleState === 'InService') &&
    !observed.restore
  ) {
    seedPhase(p);
  } else {
    holdWhileUnreachablePhase(p);
    p.wait(
      'etcd-unreachable',
      `etcd unreachable${observed.etcd.error ? ` (${observed.etcd.error})` : ''}: no membership change (quorum lost?)`,
    );
  }
  targetsPhase(p);
  replacementPhase(p, established);
  forgetJoinsPhase(p);

  // Holds last: a phase may hold a hook another settled; restore's holds win over the joins' reasons.
  for (const [id, h] of restore?.heartbeats ?? []) p.hold(id, h.hook, h.reason);
  // Hooks with a voter behind them first (their default result would take the voter's data), then
  // learners', then the rest: an invocation that dies mid-pass has heartbeated the ones that matter.
  // Unseen (etcd unreachable): a terminating master or one given a join may run a voter.
  const stake = (id: string, hook: LifecycleHook): number => {
    if (!p.reachable) return hook === 'terminating' || observed.joins[id] !== undefined ? 0 : 2;
    const inst = p.instances.find((i) => i.instanceId === id);
    const m = inst ? p.roster.memberOf(inst) : undefined;
    return m === undefined ? 2 : m.isLearner ? 1 : 0;
  };
  const held = [...p.holds].sort(
    (a, b) => stake(a[0], a[1].hook) - stake(b[0], b[1].hook) || a[0].localeCompare(b[0]),
  );
  for (const [instanceId, { hook, reason }] of held) {
    if (!p.settled.has(instanceId)) p.actions.push({ kind: 'heartbeat-lifecycle', instanceId, hook, reason });
  }
  if (
    p.reachable &&
    !observed.clusterRecorded &&
    p.voters.some((m) => m.name !== '' && m.clientURLs.length > 0)
  ) {
    p.actions.push({
      kind: 'record-cluster',
      reason: 'etcd has a started voter: record that this cluster exists',
    });
  }
  return {
    actions: p.actions,
    waits: p.waits.map((w) => w.message),
    blocked: p.waits,
    memory: p.memory,
    conditions: conditionsOf(p),
  };
}

/**
 * A cluster exists when etcd shows a started voter, or did on an earlier pass (the memory), or the
 * durable record says so, or a master was given an `existing` join. Never derived from the status
 * document alone: a format change or an unreadable document must not make a live cluster look new.
 */
function isEstablished(observed: ObservedState, memory: ReconcilerMemory): boolean {
  return (
    memory.established === true ||
    observed.clusterRecorded === true ||
    Object.values(observed.joins).some((j) => j.initialClusterState === 'existing')
  );
}

function conditionsOf(p: Pass): ClusterConditions {
  const running = p.instances.filter(isRunning);
  const quorum = p.reachable ? quorumOf(p.voters.length) : 0;
  const conditions: ClusterConditions = {
    etcdReachable: p.reachable,
    voters: p.voters.length,
    healthyVoters: p.healthyVoters.length,
    learners: p.learners.length,
    quorum,
    quorumMargin: p.healthyVoters.length - quorum,
    leaderId: p.view.leaderId,
    expectedMasters: p.config.expectedMasters,
    runningMasters: running.length,
    registeredTargets: p.registered.size,
    membershipChange: p.change,
    converged: false,
  };
  conditions.converged =
    p.reachable &&
    p.actions.every((a) => a.kind === 'record-cluster') &&
    p.learners.length === 0 &&
    p.voters.length === p.config.expectedMasters &&
    p.healthyVoters.length === p.voters.length &&
    running.length === p.voters.length &&
    running.every(
      (i) => i.lifecycleState === 'InService' && p.registered.has(i.instanceId) && p.roster.memberOf(i),
    );
  return conditions;
}

/**
 * What the next pass remembers: when each unhealthy voter (or memberless InService master) was first
 * seen so (debounce, rule 7), when each Pending:Wait master was first seen, the seed, whether a
 * cluster exists, and the recent replacements. A member whose only trouble is a full database
 * (NOSPACE) is not counted as unhealthy here: it is never replaced for it.
 */
function nextMemory(p: Pass): ReconcilerMemory {
  const { observed, now } = p;
  const prev = observed.memory;
  const established = prev.established === true || (p.reachable && p.members.some((m) => p.healthy(m)));
  const memory: ReconcilerMemory = { unhealthySince: {} };
  if (prev.seedInstanceId !== undefined && !established) memory.seedInstanceId = prev.seedInstanceId;
  if (established) memory.established = true;
  const replacements = recentReplacements(prev.replacements, now);
  if (replacements.length) memory.replacements = replacements;
  if (prev.restore && observed.restore) memory.restore = prev.restore;
  const pendingSince = Object.fromEntries(
    p.instances
      .filter((i) => i.lifecycleState === 'Pending:Wait')
      .map((i) => [i.instanceId, prev.pendingSince?.[i.instanceId] ?? now]),
  );
  if (Object.keys(pendingSince).length) memory.pendingSince = pendingSince;
  if (!p.reachable) {
    // Nothing is known about members this pass: keep what earlier passes saw.
    memory.unhealthySince = { ...prev.unhealthySince };
    return memory;
  }
  for (const m of p.members) {
    const problem = p.problem(m);
    if (!m.isLearner && problem !== undefined && problem !== 'nospace') {
      memory.unhealthySince[m.id] = prev.unhealthySince[m.id] ?? now;
    }
  }
  for (const i of p.instances) {
    if (i.lifecycleState === 'InService' && !p.roster.memberOf(i)) {
      const key = memberlessKey(i.instanceId);
      memory.unhealthySince[key] = prev.unhealthySince[key] ?? now;
    }
  }
  return memory;
}
