/**
 * Phase 4-6 and 9: Pending:Wait masters. Abandon the failed (never while their member votes: the
 * member is removed first, so no launch ABANDON terminates a voter), promote a caught-up learner,
 * add one new master as a learner, publish join parameters, register a ready voter and complete its
 * launch; for a brand-new cluster, one seed creates etcd and the others wait for its member.
 */
import type { ObservedInstance } from '../observed.js';
import { IN_SYNC_SHARE, isStarted } from '../quorum.js';
import { byLaunchThenId, instancePeerURL, isGone, joinParametersFor, seedJoinParameters } from '../roster.js';
import { label, type Pass, WAIT } from './pass.js';
import { removeLeavingMember } from './terminating.js';

export function pendingMasters(p: Pass): ObservedInstance[] {
  return p.instances.filter((i) => i.lifecycleState === 'Pending:Wait').sort(byLaunchThenId);
}

/** Abandons masters whose boot failed or timed out; `protectedIds` (a restoring seed) are kept. */
export function abandonPhase(p: Pass, established: boolean, protectedIds: ReadonlySet<string>): void {
  for (const inst of pendingMasters(p)) {
    const id = inst.instanceId;
    if (protectedIds.has(id)) continue;
    const m = p.reachable ? p.roster.memberOf(inst) : undefined;
    const ready = m !== undefined && p.healthy(m) && inst.apiReady;
    const seen = p.memory.pendingSince?.[id] ?? p.now;
    const bootStart = Math.max(inst.launchTime, seen);
    if (ready || !(inst.bootFailed || p.now - bootStart >= p.config.bootTimeoutMs)) continue;
    // A healthy voter that is only slow to serve its API is not traded away for time: it counts
    // toward quorum. It stays held (the joins phase) until its API is ready or its boot fails.
    if (m !== undefined && !inst.bootFailed && p.healthy(m)) continue;
    if (!p.reachable && p.observed.joins[id] !== undefined && (established || inst.apiReady)) {
      // It was given a join: it may run a voter nobody can see now. Abandoning would terminate it.
      // Before a cluster is established that is certain once its API server serves (it needs its
      // etcd): the seed of a new cluster the reconciler cannot reach runs the cluster's only voter.
      p.handled.add(id);
      p.hold(id, 'launching', 'etcd unreachable: its member may vote');
      p.wait(WAIT.etcdUnreachable, `${id}: not abandoned while etcd is unreachable (it was given a join)`);
      continue;
    }
    if (m !== undefined && !m.isLearner) {
      // A launch ABANDON terminates the instance at once (no terminating hook): remove the voter first.
      p.handled.add(id);
      p.hold(id, 'launching', `its member ${label(m)} votes: removed before the launch is abandoned`);
      const blocked = removeLeavingMember(
        p,
        id,
        m,
        `its master ${id} ${inst.bootFailed ? 'failed to boot' : 'timed out booting'}`,
        `${id} abandoning`,
      );
      p.wait(
        WAIT.memberVotes,
        blocked === WAIT.quorum
          ? `${id}: not abandoned, its member ${label(m)} votes and quorum needs it`
          : `${id}: not abandoned until its member ${label(m)} is removed`,
      );
      continue;
    }
    p.complete(
      id,
      'launching',
      'ABANDON',
      inst.bootFailed
        ? 'its bootstrap failed'
        : `not ready ${Math.round((p.now - bootStart) / 1000)} s after ${bootStart === inst.launchTime ? 'launch' : 'the reconciler first saw it'}`,
    );
    p.deregister(id, 'abandoned');
  }
}

/** Promotes a caught-up learner, adds one new master, publishes joins, completes ready masters. */
export function joinsPhase(p: Pass): void {
  const pending = pendingMasters(p);
  // Promote a caught-up learner (5) before anything else can be added: one learner at a time.
  for (const l of p.learners) {
    const inst = p.roster.instanceOf(l);
    if (!inst || isGone(inst) || p.settled.has(inst.instanceId)) continue;
    if (!isStarted(l) || !l.status.reachable) {
      p.wait(WAIT.learner, `learner ${label(l)} to start`);
      continue;
    }
    const leaderIndex = p.view.leaderRaftIndex;
    const lag = (leaderIndex ?? Number.POSITIVE_INFINITY) - (l.status.raftIndex ?? 0);
    // etcd's own test too: the learner has at least 90 % of the leader's index (early in a cluster's
    // life, when indexes are small, that is stricter than the lag bound).
    const inSync = (l.status.raftIndex ?? 0) >= IN_SYNC_SHARE * (leaderIndex ?? 0);
    if (lag > p.config.learnerMaxLag || !inSync) {
      p.wait(
        WAIT.learner,
        `learner ${label(l)} to catch up (${Number.isFinite(lag) ? `${lag} entries behind` : 'no leader index'})`,
      );
      continue;
    }
    p.tryChange(
      { kind: 'promote', memberId: l.id },
      { kind: 'promote-member', memberId: l.id, name: l.name, reason: `learner caught up (lag ${lag})` },
      `promote ${label(l)}`,
    );
  }
  const size = p.members.length;
  for (const inst of pending) {
    const id = inst.instanceId;
    if (p.settled.has(id) || p.handled.has(id)) continue;
    const m = p.roster.memberOf(inst);
    if (!m) {
      const url = instancePeerURL(inst, p.config);
      const holder = url === undefined ? undefined : p.members.find((x) => x.peerURLs.includes(url));
      if (url === undefined) {
        p.wait(WAIT.joinBlocked, `${id} to get a private IP`);
      } else if (holder) {
        // The IP was reused: the member of a gone instance still holds the peer URL.
        p.wait(
          WAIT.joinBlocked,
          `${id}: its peer URL is still held by member ${label(holder)}, which must go first`,
        );
      } else if (size >= p.config.expectedMasters + 1) {
        p.wait(
          WAIT.joinBlocked,
          `${id}: ${size} members already (at most ${p.config.expectedMasters + 1} while replacing)`,
        );
      } else {
        p.tryChange(
          { kind: 'add-learner', peerURL: url },
          { kind: 'add-learner', instanceId: id, peerURL: url, reason: `new master ${id} in ${inst.zone}` },
          `add ${id} as a learner`,
        );
      }
      p.hold(id, 'launching', 'waiting to join etcd');
      continue;
    }
    if (p.observed.joins[id] === undefined && m.isLearner) {
      p.actions.push({
        kind: 'publish-join',
        instanceId: id,
        params: joinParametersFor(id, m.id, p.members),
        reason: 'its learner exists but its join parameters are missing',
      });
    }
    if (p.healthy(m) && inst.apiReady) {
      if (!p.registered.has(id)) {
        p.actions.push({
          kind: 'register-target',
          instanceId: id,
          reason: 'its etcd member votes and its API is ready',
        });
      }
      p.complete(id, 'launching', 'CONTINUE', 'etcd voter and API ready');
      continue;
    }
    const waitingFor = m.isLearner
      ? 'its learner to be promoted'
      : p.healthy(m)
        ? 'its API server /readyz'
        : 'its member to be healthy';
    p.wait(WAIT.joining, `${id}: ${waitingFor}`);
    p.hold(id, 'launching', `waiting for ${waitingFor}`);
  }
}

/**
 * etcd does not answer the reconciler, in an established cluster: every launching master is held
 * (finding 3). One given a join may run a voter nobody can see now (its default ABANDON would
 * terminate it with its data); one without a join waits for etcd, like the rest of the pass.
 */
export function holdWhileUnreachablePhase(p: Pass): void {
  for (const inst of pendingMasters(p)) {
    const id = inst.instanceId;
    if (p.settled.has(id) || p.handled.has(id)) continue;
    p.hold(
      id,
      'launching',
      p.observed.joins[id] !== undefined
        ? 'etcd unreachable: its member may vote'
        : 'waiting for etcd to answer',
    );
  }
}

/** 9. A brand-new cluster (etcd unreachable, never established): one seed creates it. */
export function seedPhase(p: Pass): void {
  const pending = pendingMasters(p);
  const candidates = pending.filter((i) => !p.settled.has(i.instanceId) && i.privateIp !== undefined);
  const seed =
    candidates.find((i) => i.instanceId === p.memory.seedInstanceId) ?? candidates[0 /* by launch, id */];
  if (!seed) {
    if (pending.length === 0) p.wait(WAIT.seeding, 'a master to launch (brand-new cluster)');
    return;
  }
  p.memory.seedInstanceId = seed.instanceId;
  const url = instancePeerURL(seed, p.config)!;
  if (p.observed.joins[seed.instanceId]?.initialClusterState !== 'new') {
    p.actions.push({
      kind: 'publish-join',
      instanceId: seed.instanceId,
      params: seedJoinParameters(seed, url),
      reason: 'seed of a brand-new cluster (earliest launched master)',
    });
  }
  p.wait(WAIT.seeding, `the seed ${seed.instanceId} to start etcd`);
  for (const i of pending) {
    if (p.settled.has(i.instanceId)) continue;
    if (i !== seed) p.wait(WAIT.seeding, `${i.instanceId} waits until the seed's member exists`);
    p.hold(i.instanceId, 'launching', i === seed ? 'seeding etcd' : 'waiting for the seed');
  }
}
