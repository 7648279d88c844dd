/**
 * The pass builder: what one `decide` pass knows (the observation sorted and indexed, the health of
 * every member, the memory) and what it has decided so far (actions, typed waits, hooks to hold, the
 * one membership change). Each phase (terminating, strays, joins, targets, replacement, restore)
 * reads and adds to one Pass, in order, like Cluster API's control-plane reconcile phases: no state
 * hides in closures, and every wait carries a reason constant (tests and metrics use it, not the text).
 */
import type { Action, LifecycleHook } from '../actions.js';
import type { ReconcilerConfig } from '../config.js';
import type { ObservedInstance, ObservedMember, ObservedState, ReconcilerMemory } from '../observed.js';
import {
  checkChange,
  type EtcdView,
  isHealthyVoter,
  type MembershipChange,
  type VoterProblem,
  voterProblem,
} from '../quorum.js';
import { buildRoster, type Roster } from '../roster.js';

/** Why a pass waits: one constant per situation. */
export const WAIT = {
  /** Another membership change was chosen this pass (one at a time). */
  changeTaken: 'change-taken',
  /** A restore record exists: no membership change. */
  restore: 'restore',
  /** The reconciler cannot read the member list. */
  etcdUnreachable: 'etcd-unreachable',
  /** No leader a majority of the voters agrees on (an election, or quorum lost). */
  noLeader: 'no-leader',
  /** The change would leave fewer healthy voters than the quorum (rule 1), or etcd would refuse it. */
  quorum: 'quorum',
  /** A leaving leader, and no healthy voter to hand leadership to. */
  noSuccessor: 'no-successor',
  /** A healthy member whose instance is gone: left alone (it may be a partition). */
  healthyWithoutInstance: 'healthy-without-instance',
  /** A launching master whose member votes is not abandoned until the member is removed. */
  memberVotes: 'member-votes',
  /** A learner has not started or caught up yet. */
  learner: 'learner',
  /** A new master waits for an address, a peer URL held by a gone member, or room (M+1 members). */
  joinBlocked: 'join-blocked',
  /** A joining master waits for its promotion, its member's health or its API server. */
  joining: 'joining',
  /** A brand-new cluster: the seed starts etcd, the others wait for it. */
  seeding: 'seeding',
  /** A replacement is already in progress: one at a time. */
  replacing: 'replacing',
  /** Quorum is lost: replacing a master could lose data. */
  quorumLost: 'quorum-lost',
  /** Too many replacements lately: a loop (every new master fails the same way) needs a person. */
  replacementLimit: 'replacement-limit',
  /** The database is full (NOSPACE): a new master would sync the same database, so none is launched. */
  databaseFull: 'database-full',
} as const;
export type WaitReason = (typeof WAIT)[keyof typeof WAIT];

export interface Wait {
  reason: WaitReason;
  message: string;
}

const byInstanceId = (a: ObservedInstance, b: ObservedInstance) => a.instanceId.localeCompare(b.instanceId);
const byId = <T extends { id: string }>(a: T, b: T) => a.id.localeCompare(b.id);
export const label = (m: ObservedMember) => `${m.id} (${m.name || 'unnamed'})`;

export class Pass {
  readonly instances: readonly ObservedInstance[];
  readonly members: readonly ObservedMember[];
  readonly roster: Roster;
  /** Members, leader and leader index: what health is judged against. */
  readonly view: EtcdView;
  readonly voters: readonly ObservedMember[];
  readonly healthyVoters: readonly ObservedMember[];
  readonly learners: readonly ObservedMember[];
  /** Instances registered in the API target group (draining ones excluded). */
  readonly registered: ReadonlySet<string>;
  readonly actions: Action[] = [];
  readonly waits: Wait[] = [];
  /** Lifecycle actions settled this pass (completed or abandoned): they get no heartbeat. */
  readonly settled = new Set<string>();
  /** Hooks held this pass (heartbeated), by instance id. */
  readonly holds = new Map<string, { hook: LifecycleHook; reason: string }>();
  /** Instances an earlier phase took charge of this pass (later phases leave them alone). */
  readonly handled = new Set<string>();
  /** Terminating masters whose member's removal waits on quorum arithmetic (finding 4). */
  readonly removalBlocked = new Set<string>();
  private readonly deregistered = new Set<string>();
  /** The pass's one membership change, in words. */
  change: string | undefined;
  memory: ReconcilerMemory;

  constructor(
    readonly observed: ObservedState,
    readonly config: ReconcilerConfig,
    readonly now: number,
    memory: (p: Pass) => ReconcilerMemory,
  ) {
    const { etcd } = observed;
    this.instances = [...observed.group.instances].sort(byInstanceId);
    this.members = [...etcd.members].sort(byId);
    this.roster = buildRoster(this.instances, this.members, config);
    this.view = {
      members: this.members as ObservedMember[],
      leaderId: etcd.leaderId,
      leaderRaftIndex: etcd.leaderRaftIndex,
    };
    this.voters = this.members.filter((m) => !m.isLearner);
    this.healthyVoters = this.voters.filter((m) => isHealthyVoter(m, this.view));
    this.learners = this.members.filter((m) => m.isLearner);
    this.registered = new Set(
      observed.targets.filter((t) => t.health !== 'draining').map((t) => t.instanceId),
    );
    this.memory = memory(this);
  }

  get reachable(): boolean {
    return this.observed.etcd.reachable;
  }

  healthy(m: ObservedMember): boolean {
    return isHealthyVoter(m, this.view);
  }

  problem(m: ObservedMember): VoterProblem | undefined {
    return voterProblem(m, this.view);
  }

  /** The member (or, with no member, the instance) has been unhealthy past the threshold. */
  longUnhealthy(key: string): boolean {
    const since = this.memory.unhealthySince[key];
    return since !== undefined && this.now - since >= this.config.memberUnhealthyMs;
  }

  wait(reason: WaitReason, message: string): void {
    this.waits.push({ reason, message });
  }

  /** Holds a lifecycle hook this pass (a heartbeat), unless it is settled. */
  hold(instanceId: string, hook: LifecycleHook, reason: string): void {
    this.holds.set(instanceId, { hook, reason });
  }

  complete(instanceId: string, hook: LifecycleHook, result: 'CONTINUE' | 'ABANDON', reason: string): void {
    this.settled.add(instanceId);
    this.holds.delete(instanceId);
    this.actions.push({ kind: 'complete-lifecycle', instanceId, hook, result, reason });
  }

  deregister(instanceId: string, reason: string): void {
    if (!this.registered.has(instanceId) || this.deregistered.has(instanceId)) return;
    this.deregistered.add(instanceId);
    this.actions.push({ kind: 'deregister-target', instanceId, reason });
  }

  /**
   * Claims the pass's one membership change if it is safe on the target membership. Returns the
   * reason constant it waits on when it is not claimed (undefined: claimed).
   */
  tryChange(mc: MembershipChange, action: Action, what: string): WaitReason | undefined {
    const refuse = (reason: WaitReason, message: string) => {
      this.wait(reason, `${what}: ${message}`);
      return reason;
    };
    if (this.change !== undefined)
      return refuse(WAIT.changeTaken, `after this pass's membership change (${this.change})`);
    if (this.observed.restore) {
      return refuse(
        WAIT.restore,
        `a restore is in progress (requested ${this.observed.restore.requestedAt})`,
      );
    }
    if (!this.reachable) return refuse(WAIT.etcdUnreachable, 'etcd is unreachable');
    if (this.view.leaderId === undefined)
      return refuse(WAIT.noLeader, 'etcd has no leader (election in progress?)');
    const verdict = checkChange(this.view, mc);
    if (!verdict.safe) return refuse(WAIT.quorum, `not safe yet (${verdict.reason})`);
    this.change = what;
    // Backups protect but never block: the executor runs the change whether or not this snapshot works.
    if (this.config.backupBucket !== undefined)
      this.actions.push({ kind: 'snapshot', reason: `before ${what}` });
    this.actions.push({ ...action, reason: `${action.reason} (${verdict.reason})` } as Action);
    return undefined;
  }
}
