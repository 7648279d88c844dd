/**
 * Observed state: one value holding everything one reconcile pass looked at. `decide` is a pure
 * function of this value, the config and the time; the observer (observe.ts) fills it through ports.
 */

/** Auto Scaling lifecycle states (the ones tripod acts on, plus the rest so nothing is lost). */
export type LifecycleState =
  | 'Pending'
  | 'Pending:Wait'
  | 'Pending:Proceed'
  | 'InService'
  | 'Terminating'
  | 'Terminating:Wait'
  | 'Terminating:Proceed'
  | 'Terminated'
  | 'Detaching'
  | 'Detached'
  | 'EnteringStandby'
  | 'Standby'
  // A warm pool's instances (DescribeWarmPool): prepared, never part of the control plane.
  | 'Warmed:Pending'
  | 'Warmed:Pending:Wait'
  | 'Warmed:Pending:Proceed'
  | 'Warmed:Stopped'
  | 'Warmed:Running'
  | 'Warmed:Hibernated'
  | 'Warmed:Terminating'
  | 'Warmed:Terminating:Wait'
  | 'Warmed:Terminating:Proceed'
  | 'Warmed:Terminated';

export interface ObservedInstance {
  instanceId: string;
  zone: string;
  /** Private IPv4; undefined while EC2 has not assigned it yet. */
  privateIp: string | undefined;
  lifecycleState: LifecycleState;
  /** The group's health status of the instance. */
  health: 'Healthy' | 'Unhealthy';
  /** Epoch milliseconds. */
  launchTime: number;
  /** The node's own API server answers /readyz on its private address (probed directly, never through the NLB). */
  apiReady: boolean;
  /** The node reported that its bootstrap failed (it cannot come up). */
  bootFailed: boolean;
}

export interface ObservedMemberStatus {
  /** The member answered /v3/maintenance/status. */
  reachable: boolean;
  raftIndex?: number;
  raftAppliedIndex?: number;
  /** Alarm types raised on this member (NOSPACE, CORRUPT). */
  alarms: string[];
  /** The leader this member names in its status ('0': none). Undefined when it did not answer. */
  leaderId?: string;
  /** etcd's `errors` from its status (e.g. `etcdserver: no leader`), alarm entries left out (see `alarms`). */
  errors?: string[];
  error?: string;
}

export interface ObservedMember {
  /** uint64 as a decimal string. */
  id: string;
  /** Empty until the member has started; tripod names members after their instance id. */
  name: string;
  peerURLs: string[];
  clientURLs: string[];
  isLearner: boolean;
  status: ObservedMemberStatus;
}

export interface ObservedEtcd {
  /** A member list could be read from some started voter. When false, `members` is empty and no membership change is possible. */
  reachable: boolean;
  /** The leader a majority of the voters names (undefined: none does). */
  leaderId: string | undefined;
  /** The leader's raft index (learners are compared with it before promotion). */
  leaderRaftIndex: number | undefined;
  members: ObservedMember[];
  error?: string;
}

export type TargetHealthState = 'initial' | 'healthy' | 'unhealthy' | 'unused' | 'draining' | 'unavailable';

export interface ObservedTarget {
  instanceId: string;
  health: TargetHealthState;
}

/** Join parameters the reconciler publishes for a new master's bootstrap (SSM, see protocol.ts). */
export interface JoinParameters {
  /** The etcd member name: the instance id. */
  name: string;
  /** `name=peerURL,...` of every member after the add, the new one included. */
  initialCluster: string;
  /** `new` for the seed of a brand-new cluster, `existing` for every join. */
  initialClusterState: 'new' | 'existing';
  /** The member id etcd gave the learner (absent for the seed). */
  memberId?: string;
  /**
   * Set on the seed of a disaster-recovery restore (the restore record's `requestedAt`): the seed
   * restores the recorded snapshot into a new one-member cluster, once per value (master.sh
   * restore_watch / the boot's restore_seed_data).
   */
  restore?: string;
}

/**
 * What earlier passes remembered (published with the status document). It is what makes debouncing
 * possible in a pure function: "unhealthy since" survives from one pass to the next.
 */
export interface ReconcilerMemory {
  /** member id -> epoch ms when it was first seen unhealthy. */
  unhealthySince: Record<string, number>;
  /**
   * instance id -> epoch ms when a pass first saw it in Pending:Wait. The boot timeout counts from
   * this or the launch, whichever is later: a master that launched before the reconciler existed
   * (a first bring-up) or could run is not abandoned for time nobody was there to let it join.
   */
  pendingSince?: Record<string, number>;
  /** The instance chosen to create a brand-new cluster, once chosen. */
  seedInstanceId?: string;
  /**
   * Set once etcd answered with a started voter. From then on an unreachable etcd means quorum is
   * lost (never a brand-new cluster): tripod never seeds a second cluster over an existing one.
   */
  established?: boolean;
  /**
   * When the reconciler marked masters Unhealthy for etcd's sake (epoch ms, the last few): a
   * replacement loop (each new master failing the same way) stops at REPLACEMENT_LIMIT per window.
   */
  replacements?: number[];
  /**
   * What the last passes concluded about etcd's quorum (heal/phases/restore.ts assessQuorum) and since
   * when it has been so: `tripod restore` refuses unless it reads `lost` here, long enough.
   */
  quorum?: QuorumMemory;
  /** A restore in progress, as far as the reconciler took it (heal/phases/restore.ts). */
  restore?: RestoreMemory;
}

export interface QuorumMemory {
  state: 'held' | 'lost' | 'unknown';
  /** Epoch ms the state was first seen (consecutive passes). */
  since: number;
  why: string;
}

export interface RestoreMemory {
  /** The record this memory belongs to (its `requestedAt`). */
  requestedAt: string;
  /** The instance chosen as the seed. */
  seedInstanceId?: string;
  /** When the seed's restore join was published. */
  publishedAt?: number;
  /** The seed's etcd member id before it restored (a restored member has a new one). */
  seedMemberBefore?: string;
}

export const emptyMemory = (): ReconcilerMemory => ({ unhealthySince: {} });

export interface ObservedState {
  cluster: string;
  /** The master Auto Scaling group. */
  group: { name: string; desired: number; instances: ObservedInstance[] };
  etcd: ObservedEtcd;
  /** Registrations in the API target group. */
  targets: ObservedTarget[];
  /** Join parameters already published, by instance id. */
  joins: Record<string, JoinParameters>;
  memory: ReconcilerMemory;
  /**
   * A disaster-recovery restore recorded by `tripod restore` (restore.ts, `restoreParameter`): while
   * it exists no membership change is made; the restore phase (phases/restore.ts) lets the old
   * members' instances go only when quorum is really lost (or the record says `force`).
   */
  restore?: ObservedRestore;
  /**
   * The newest snapshot and the last snapshot attempt, from the backup status the snapshot invocation
   * publishes (`backupStatusParameter`); undefined when backups are off or nothing was published yet.
   */
  backup?: ObservedBackup;
  /**
   * The durable record that an etcd cluster exists (`clusterRecordParameter`, written once by the
   * reconciler when it first sees a started voter). Unlike the status document's memory, a format
   * change or an unreadable document cannot lose it: tripod never seeds a second, empty cluster.
   */
  clusterRecorded?: boolean;
}

/** The restore record as decide needs it (an unreadable record still stops membership changes). */
export interface ObservedRestore {
  requestedAt: string;
  seedInstanceId?: string;
  /** M to grow back to (default: the configuration's). */
  expectedMasters?: number;
  /** `tripod restore --force`: the operator overrode the quorum check. */
  force?: boolean;
  /** The record is there but cannot be restored from (not JSON, or no bucket, key and sha256). */
  unreadable?: true;
}

export interface ObservedBackup {
  /** Epoch ms the newest good snapshot was taken (undefined: none yet). */
  lastSnapshotAt?: number;
  lastSnapshotKey?: string;
  /** The last attempt failed: when and why (cleared by the next success). */
  lastFailure?: { at: number; error: string };
  /** A snapshot was requested at this time and has not finished yet. */
  requestedAt?: number;
}
