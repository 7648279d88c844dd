/**
 * Quorum arithmetic on etcd memberships (rule 1: always on the TARGET membership, the one after the
 * change) and the one definition of a healthy voter. One place, used by `decide` to choose, by the
 * executor to re-check before a change, by the status document and by the upgrade preflight.
 */
import { quorumOf } from '../cluster-spec/topology.js';
import type { ObservedEtcd, ObservedMember } from './observed.js';

export { quorumOf };

/** etcd promotes a learner only when its raft index is at least this share of the leader's (isLearnerReady). */
export const IN_SYNC_SHARE = 0.9;

/** What health is judged against: the member list, the leader the majority agrees on and its raft index. */
export type EtcdView = Pick<ObservedEtcd, 'members' | 'leaderId' | 'leaderRaftIndex'>;

/** Started: the member has run (it has a name and client URLs). A member being added has neither. */
export const isStarted = (m: ObservedMember): boolean => m.name !== '' && m.clientURLs.length > 0;

/** etcd's own promotion test, applied to any member: its raft index is at least 90 % of the leader's. */
export const isInSync = (m: ObservedMember, view: Pick<EtcdView, 'leaderRaftIndex'>): boolean =>
  view.leaderRaftIndex === undefined ||
  m.status.raftIndex === undefined ||
  m.status.raftIndex >= IN_SYNC_SHARE * view.leaderRaftIndex;

/** Why a member does not count toward quorum (a constant: tests and metrics use it, not the text). */
export type VoterProblem =
  | 'learner'
  | 'not-started'
  | 'unreachable'
  | 'no-leader'
  | 'leader-disagreement'
  | 'errors'
  | 'nospace'
  | 'alarm'
  | 'lagging';

/**
 * undefined when `m` is a healthy voter: it is a started voter, it answers, the cluster has a leader a
 * majority of the voters agree on and `m` names the same one, it reports no errors (etcd's `errors`,
 * alarms aside), it has no alarm, and it is in sync by etcd's promotion test. Otherwise the first
 * problem found. A NOSPACE alarm is reported as such: it is the database's, not the node's (every
 * member holds the same data), so it never justifies replacing the node.
 */
export function voterProblem(m: ObservedMember, view: EtcdView): VoterProblem | undefined {
  if (m.isLearner) return 'learner';
  if (!isStarted(m)) return 'not-started';
  if (!m.status.reachable) return 'unreachable';
  if (view.leaderId === undefined) return 'no-leader';
  if (m.status.leaderId !== undefined && m.status.leaderId !== view.leaderId) return 'leader-disagreement';
  if ((m.status.errors?.length ?? 0) > 0) return 'errors';
  if (m.status.alarms.length > 0) {
    return m.status.alarms.every((a) => a === 'NOSPACE') ? 'nospace' : 'alarm';
  }
  if (!isInSync(m, view)) return 'lagging';
  return undefined;
}

/** Counts toward quorum: see voterProblem. */
export function isHealthyVoter(m: ObservedMember, view: EtcdView): boolean {
  // `members.filter(isHealthyVoter)` would pass an index here: refuse it loudly, never judge without a leader.
  if (typeof view !== 'object' || view === null) throw new TypeError('isHealthyVoter(member, etcdView)');
  return voterProblem(m, view) === undefined;
}

/** The healthy voters of a view. */
export const healthyVoters = (view: EtcdView): ObservedMember[] =>
  view.members.filter((m) => isHealthyVoter(m, view));

/** The member's trouble is one a new instance would have as well (a full database): never replace for it. */
export const isDatabaseProblem = (p: VoterProblem | undefined): boolean => p === 'nospace';

export type MembershipChange =
  | { kind: 'remove'; memberId: string }
  | { kind: 'add-learner'; peerURL: string }
  | { kind: 'promote'; memberId: string };

export interface QuorumVerdict {
  safe: boolean;
  /** Why not (or the figures, when safe). */
  reason: string;
  votersAfter: number;
  healthyAfter: number;
  quorumAfter: number;
}

/**
 * Is `change` safe on `members`? The cluster must have quorum now (a change needs a commit), and
 * healthy started voters after the change must be >= floor(votersAfter/2)+1. Never removes the last
 * member, never shrinks a 2-voter cluster (rule 6); adding requires every voter healthy (rule 2: etcd's
 * strict reconfig check refuses it anyway) and no other learner (rule 3); a promoted learner must be
 * started and reachable.
 */
export function checkChange(view: EtcdView, change: MembershipChange): QuorumVerdict {
  const { members } = view;
  const voters = members.filter((m) => !m.isLearner);
  const healthy = voters.filter((m) => isHealthyVoter(m, view)).length;
  const quorumNow = quorumOf(voters.length);
  let votersAfter = voters.length;
  let healthyAfter = healthy;
  const verdict = (safe: boolean, reason: string): QuorumVerdict => ({
    safe,
    reason,
    votersAfter,
    healthyAfter,
    quorumAfter: quorumOf(votersAfter),
  });
  if (voters.length === 0) return verdict(false, 'no voting member');
  if (healthy < quorumNow) {
    return verdict(false, `quorum lost: ${healthy} of ${voters.length} voters healthy, ${quorumNow} needed`);
  }
  switch (change.kind) {
    case 'remove': {
      const m = members.find((x) => x.id === change.memberId);
      if (!m) return verdict(true, 'already removed');
      if (members.length <= 1) return verdict(false, 'never remove the last member');
      if (!m.isLearner) {
        if (voters.length <= 2) return verdict(false, `never shrink a ${voters.length}-voter cluster`);
        votersAfter -= 1;
        if (isHealthyVoter(m, view)) healthyAfter -= 1;
      }
      break;
    }
    case 'add-learner': {
      if (members.some((m) => m.peerURLs.includes(change.peerURL))) return verdict(true, 'already a member');
      if (members.some((m) => m.isLearner)) return verdict(false, 'a learner already exists (one at a time)');
      if (healthy < voters.length) {
        return verdict(false, `${voters.length - healthy} voter(s) unhealthy: remove the dead before adding`);
      }
      break;
    }
    case 'promote': {
      const m = members.find((x) => x.id === change.memberId);
      if (!m) return verdict(false, 'member not found');
      if (!m.isLearner) return verdict(true, 'already a voter');
      if (!isStarted(m) || !m.status.reachable) return verdict(false, 'learner not started or unreachable');
      votersAfter += 1;
      healthyAfter += 1;
      break;
    }
  }
  const quorumAfter = quorumOf(votersAfter);
  if (healthyAfter < quorumAfter) {
    return verdict(
      false,
      `would leave ${healthyAfter} healthy of ${votersAfter} voters, quorum ${quorumAfter} needed`,
    );
  }
  return verdict(true, `${healthyAfter} healthy of ${votersAfter} voters after, quorum ${quorumAfter}`);
}
