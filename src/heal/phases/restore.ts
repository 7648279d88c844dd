/**
 * The restore phase of a pass (pure): what etcd's quorum looks like from the reconciler, and, while
 * a restore record (`tripod restore`, heal/restore.ts) exists, the decisions that bring the cluster
 * back from a snapshot:
 *
 *  1. terminating masters are let go only when quorum is really lost (or the record says `force`);
 *     otherwise they are held (heartbeated): a mistaken restore must not destroy a healthy cluster;
 *  2. once the group shrank to the seed, the seed's join is published with state `new` and the
 *     record's `requestedAt` as `restore`: the seed restores the snapshot on its own (master.sh
 *     restore_watch on a running master, restore_seed_data on a booting one);
 *  3. the seed is held (its launching hook heartbeated) until it serves the restored cluster;
 *  4. the record is cleared once the seed serves and the group is back to M: the other masters
 *     then join through the normal learner joins (one at a time).
 *
 * Quorum (assessQuorum), from what the pass observed:
 *  - etcd answered: lost when fewer than a quorum of voters serve, or no voter reports a leader;
 *  - etcd did not answer: lost when every master refused the connection (the hosts answer, nothing
 *    listens on 2379) or answered with an etcd error; `unknown` when calls timed out (the reconciler
 *    may be the one cut off), unless a master's API server is ready (it needs etcd's quorum: held).
 */
import type { Action, LifecycleHook } from '../actions.js';
import type { ReconcilerConfig } from '../config.js';
import type { ObservedState, QuorumMemory, RestoreMemory } from '../observed.js';
import { isHealthyVoter, quorumOf } from '../quorum.js';
import {
  buildRoster,
  byLaunchThenId,
  instancePeerURL,
  isGone,
  isWarm,
  seedJoinParameters,
} from '../roster.js';

export interface QuorumAssessment {
  state: QuorumMemory['state'];
  why: string;
}

const REFUSED = /ECONNREFUSED|connection refused/i;
const TIMED_OUT = /no answer within|timed? ?out|ETIMEDOUT|i\/o timeout/i;

export function assessQuorum(observed: ObservedState): QuorumAssessment {
  const { etcd } = observed;
  const apiReady = observed.group.instances.filter((i) => i.apiReady).map((i) => i.instanceId);
  if (etcd.reachable) {
    const voters = etcd.members.filter((m) => !m.isLearner);
    const serving = voters.filter((m) => isHealthyVoter(m, etcd)).length;
    const q = quorumOf(voters.length);
    if (etcd.leaderId === undefined) {
      return { state: 'lost', why: `no voter reports a leader (${serving} of ${voters.length} answer)` };
    }
    if (serving < q)
      return { state: 'lost', why: `${serving} of ${voters.length} voters serve (quorum ${q})` };
    return { state: 'held', why: `${serving} of ${voters.length} voters serve (quorum ${q})` };
  }
  if (apiReady.length > 0) {
    return {
      state: 'held',
      why: `etcd does not answer the reconciler, but the API server of ${apiReady.join(', ')} is ready (it needs etcd's quorum)`,
    };
  }
  if (!observed.memory.established) return { state: 'unknown', why: 'no cluster was ever established' };
  const failures = (etcd.error ?? '').split('; ').filter((f) => f.trim() !== '');
  if (failures.length === 0) return { state: 'unknown', why: 'no master with an address to ask' };
  const timedOut = failures.filter((f) => TIMED_OUT.test(f) && !REFUSED.test(f));
  if (timedOut.length > 0) {
    return {
      state: 'unknown',
      why: `${timedOut.length} of ${failures.length} masters did not answer in time (is the reconciler cut off from etcd?)`,
    };
  }
  const refused = failures.filter((f) => REFUSED.test(f)).length;
  return {
    state: 'lost',
    why: `no master serves etcd (${refused} refused the connection, ${failures.length - refused} answered with an error)`,
  };
}

/** The quorum memory after this pass: `since` survives while the state stays the same. */
export function nextQuorumMemory(
  prev: QuorumMemory | undefined,
  now: QuorumAssessment,
  at: number,
): QuorumMemory {
  return { state: now.state, why: now.why, since: prev?.state === now.state ? prev.since : at };
}

export interface RestorePhase {
  actions: Action[];
  waits: string[];
  /** Hooks this phase holds (instance id -> hook, reason). */
  heartbeats: Map<string, { hook: LifecycleHook; reason: string }>;
  /** Instances whose lifecycle action this phase settled (no heartbeat, no other rule touches them). */
  settled: Set<string>;
  /** Terminating masters this phase took charge of: decide's rule 1 leaves them alone. */
  handledTerminating: Set<string>;
  /** Pending masters decide must not abandon (the seed while it restores). */
  protectedPending: Set<string>;
  /** The restore memory for the next pass (undefined: no restore in progress). */
  memory: RestoreMemory | undefined;
  /** The seed serves the restored cluster. */
  restored: boolean;
}

/** The restore decisions of one pass; undefined when no restore record exists. */
export function decideRestore(
  observed: ObservedState,
  config: ReconcilerConfig,
  quorum: QuorumAssessment,
  now: number,
): RestorePhase | undefined {
  const record = observed.restore;
  if (!record) return undefined;
  const { etcd } = observed;
  const instances = [...observed.group.instances].sort(byLaunchThenId);
  const members = etcd.members;
  const roster = buildRoster(instances, members, config);
  const prev =
    observed.memory.restore?.requestedAt === record.requestedAt ? observed.memory.restore : undefined;
  const out: RestorePhase = {
    actions: [],
    waits: [],
    heartbeats: new Map(),
    settled: new Set(),
    handledTerminating: new Set(),
    protectedPending: new Set(),
    memory: { requestedAt: record.requestedAt, ...(prev ?? {}) },
    restored: false,
  };
  const memory = out.memory as RestoreMemory;
  const since = `restore requested ${record.requestedAt}`;
  const expected = record.expectedMasters ?? config.expectedMasters;
  const goAhead = record.force === true || quorum.state === 'lost';

  // The seed: the record's, while it lives; else the one chosen earlier; else the oldest live master.
  // A warm pool instance is no master: it runs no etcd and may be stopped (never the seed).
  const alive = instances.filter(
    (i) => !isGone(i) && !isWarm(i) && !i.lifecycleState.startsWith('Terminating'),
  );
  const seed =
    alive.find((i) => i.instanceId === memory.seedInstanceId) ??
    alive.find((i) => i.instanceId === record.seedInstanceId) ??
    alive[0];
  if (seed) memory.seedInstanceId = seed.instanceId;

  const seedMember = seed ? roster.memberOf(seed) : undefined;
  const published = seed !== undefined && observed.joins[seed.instanceId]?.restore === record.requestedAt;
  out.restored =
    published &&
    seedMember !== undefined &&
    members.length === 1 &&
    !seedMember.isLearner &&
    isHealthyVoter(seedMember, etcd) &&
    etcd.leaderId === seedMember.id &&
    seedMember.id !== memory.seedMemberBefore;

  // 1. Terminating masters other than a restored seed.
  for (const inst of instances.filter((i) => i.lifecycleState === 'Terminating:Wait')) {
    const id = inst.instanceId;
    out.handledTerminating.add(id);
    const letGo = (reason: string) => {
      out.settled.add(id);
      out.actions.push({
        kind: 'complete-lifecycle',
        instanceId: id,
        hook: 'terminating',
        result: 'CONTINUE',
        reason,
      });
    };
    if (out.restored) {
      // The old cluster is gone; this master's member (if any) is not in the restored one.
      letGo('not a member of the restored cluster');
    } else if (goAhead) {
      letGo(
        record.force === true
          ? `a forced restore replaces the old cluster (${since})`
          : `quorum is lost (${quorum.why}): the restore replaces the old cluster`,
      );
    } else {
      out.heartbeats.set(id, { hook: 'terminating', reason: `held: ${since} but quorum is ${quorum.state}` });
      out.waits.push(
        `${id} terminating: held, ${since} but quorum is ${quorum.state} (${quorum.why}); remove the record (tripod restore --cancel) if the restore was a mistake`,
      );
    }
  }

  if (record.unreadable) {
    out.waits.push(`the restore record is unreadable (${record.requestedAt}): fix or remove it`);
    return out;
  }
  if (!seed) {
    out.waits.push('restore: a master to launch as the seed');
    return out;
  }

  // 2. The seed's restore join, once the group shrank to it and quorum is really lost. Masters that
  // may run a member of the old cluster (InService, or given a join) must be gone first; a new
  // master still waiting for its join runs no etcd and waits for the restored cluster.
  const others = alive.filter(
    (i) => i !== seed && (i.lifecycleState === 'InService' || observed.joins[i.instanceId] !== undefined),
  );
  if (!published) {
    if (!goAhead) {
      out.waits.push(
        `restore: quorum is ${quorum.state} (${quorum.why}): the seed ${seed.instanceId} does not restore`,
      );
    } else if (others.length > 0) {
      out.waits.push(
        `restore: the group to shrink to the seed ${seed.instanceId} (${others.map((i) => i.instanceId).join(', ')} still running)`,
      );
    } else {
      const url = instancePeerURL(seed, config);
      if (url === undefined) {
        out.waits.push(`restore: the seed ${seed.instanceId} to get a private IP`);
      } else {
        if (seedMember) memory.seedMemberBefore = seedMember.id;
        memory.publishedAt = now;
        out.actions.push({
          kind: 'publish-join',
          instanceId: seed.instanceId,
          params: { ...seedJoinParameters(seed, url), restore: record.requestedAt },
          reason: `the seed of the restore (${since}) restores the snapshot into a new one-member cluster`,
        });
      }
    }
  } else if (!out.restored) {
    out.waits.push(`restore: the seed ${seed.instanceId} to restore the snapshot and serve`);
  }

  // 3. Hold the seed while it restores (a Pending:Wait seed: its launching hook).
  if (seed.lifecycleState === 'Pending:Wait' && !(out.restored && seed.apiReady)) {
    out.protectedPending.add(seed.instanceId);
    out.heartbeats.set(seed.instanceId, { hook: 'launching', reason: 'the seed of a restore' });
  }
  // Other new masters wait for the restored cluster (the record stops every join).
  for (const i of alive.filter((x) => x !== seed && x.lifecycleState === 'Pending:Wait')) {
    out.heartbeats.set(i.instanceId, { hook: 'launching', reason: 'waiting for the restore to finish' });
  }

  // 4. Clear the record once the seed serves and the group is back to M.
  if (out.restored) {
    if (observed.group.desired >= expected) {
      out.actions.push({
        kind: 'clear-restore',
        requestedAt: record.requestedAt,
        reason: `the seed ${seed.instanceId} serves the restored cluster and the group is back to ${observed.group.desired}: learner joins resume`,
      });
    } else {
      out.waits.push(
        `restore: the seed ${seed.instanceId} serves the restored data; grow the group back to ${expected} (tripod restore --finish)`,
      );
    }
  }
  return out;
}
