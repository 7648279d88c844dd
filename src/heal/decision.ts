/**
 * What one reconcile pass decided: the result of `decide` (pure). The executor runs `actions` in
 * order; `waits` say in words what the pass is waiting for; `memory` is what the next pass remembers;
 * `conditions` summarise the cluster (like Cluster API's conditions) for the status document.
 */
import type { Action } from './actions.js';
import type { ReconcilerMemory } from './observed.js';
import type { Wait } from './phases/pass.js';

export interface ClusterConditions {
  /** A member list could be read from a started voter. */
  etcdReachable: boolean;
  /** Voting members (learners excluded). */
  voters: number;
  /** Started, reachable voters without alarms. */
  healthyVoters: number;
  learners: number;
  /** floor(voters/2)+1 (0 when etcd is unreachable). */
  quorum: number;
  /** healthyVoters - quorum: how many more voters may fail before quorum is lost (negative: lost). */
  quorumMargin: number;
  leaderId: string | undefined;
  expectedMasters: number;
  /** Masters in Pending*, InService (the ones that are, or will be, part of the control plane). */
  runningMasters: number;
  /** Masters registered in the API target group. */
  registeredTargets: number;
  /** The membership change chosen this pass, in words (undefined: none). */
  membershipChange: string | undefined;
  /** Members == running masters, all voters healthy, every master InService and registered, nothing to do. */
  converged: boolean;
}

export interface Decision {
  actions: Action[];
  /** What the pass waits for, in words (the messages of `blocked`). */
  waits: string[];
  /** The same waits with their reason constants (phases/pass.ts WAIT): tests and metrics use these. */
  blocked: Wait[];
  memory: ReconcilerMemory;
  conditions: ClusterConditions;
}
