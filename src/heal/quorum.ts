/**
 * Quorum arithmetic on etcd memberships (rule 1: always on the TARGET membership, the one after the
 * change). One place, used by `decide` to choose and by the executor to re-check before a change.
 */
import { quorumOf } from '../spec/topology.js';
import type { ObservedMember } from './observed.js';

export { quorumOf };

/** Started: the member has run (it has a name and client URLs). A member being added has neither. */
export const isStarted = (m: ObservedMember): boolean => m.name !== '' && m.clientURLs.length > 0;

/** Counts toward quorum: a started, reachable voter without alarms. */
export const isHealthyVoter = (m: ObservedMember): boolean =>
  !m.isLearner && isStarted(m) && m.status.reachable && m.status.alarms.length === 0;

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
export function checkChange(members: readonly ObservedMember[], change: MembershipChange): QuorumVerdict {
  const voters = members.filter((m) => !m.isLearner);
  const healthy = voters.filter(isHealthyVoter).length;
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
        if (isHealthyVoter(m)) healthyAfter -= 1;
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
