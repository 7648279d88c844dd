/**
 * Ports: what the healing core needs from the world. The AWS and etcd adapters implement them for
 * the Lambda; the simulator implements the same interfaces, so the reconciler runs unchanged in both.
 */
import type { LifecycleHook } from './actions.js';
import type { ObservedInstance, TargetHealthState } from './observed.js';

/** An instance as Auto Scaling and EC2 report it: the observed instance before the pass probes it. */
export type FleetInstance = Omit<ObservedInstance, 'apiReady' | 'bootFailed'>;

/** The master Auto Scaling group (and the worker group for worker hooks). */
export interface FleetPort {
  /**
   * The group's instances and, unless `warmPool` is false (the group has no warm pool: the
   * configuration's `masterWarmPool`), its warm pool's (DescribeWarmPool). `warnings`: what could
   * not be read but did not stop the pass (the pass's log and problems).
   */
  describeGroup(
    groupName: string,
    opts?: { warmPool?: boolean },
  ): Promise<{ name: string; desired: number; instances: FleetInstance[]; warnings?: string[] }>;
  completeLifecycleAction(
    groupName: string,
    instanceId: string,
    hook: LifecycleHook,
    result: 'CONTINUE' | 'ABANDON',
  ): Promise<void>;
  recordLifecycleHeartbeat(groupName: string, instanceId: string, hook: LifecycleHook): Promise<void>;
  setInstanceUnhealthy(instanceId: string): Promise<void>;
}

export interface LoadBalancerPort {
  describeTargets(targetGroupArn: string): Promise<Array<{ instanceId: string; health: TargetHealthState }>>;
  registerTarget(targetGroupArn: string, instanceId: string): Promise<void>;
  deregisterTarget(targetGroupArn: string, instanceId: string): Promise<void>;
}

/** How long a target group keeps a deregistered target's connections (ELB's `deregistration_delay.timeout_seconds`, AWS default 300). */
export interface TargetDrainPort {
  deregistrationDelaySeconds(targetGroupArn: string): Promise<number>;
}

/** SSM Parameter Store (String and SecureString). */
export interface ParameterPort {
  get(name: string): Promise<string | undefined>;
  /** All parameters under a path prefix, name -> value. */
  getByPath(path: string): Promise<Record<string, string>>;
  /**
   * Who last wrote each parameter under a path prefix: name -> the writer's ARN (SSM's
   * DescribeParameters LastModifiedUser; for a role session `arn:...:sts::<account>:assumed-role/<role>/<session>`).
   */
  writers(path: string): Promise<Record<string, string | undefined>>;
  put(name: string, value: string, options?: { secure?: boolean }): Promise<void>;
  delete(name: string): Promise<void>;
}

/** One etcd member's view, from /v3/maintenance/status. */
export interface EtcdMemberStatusReply {
  memberId: string;
  leaderId: string;
  raftIndex: number;
  raftAppliedIndex: number;
  raftTerm: number;
  isLearner: boolean;
  dbSize: number;
  version: string;
  /**
   * etcd's own `errors` (3.5: e.g. `alarm:NOSPACE `, `etcdserver: no leader`). An adapter that fills it
   * lets the observer skip the alarms call while there is no alarm (M+1 etcd calls per pass).
   */
  errors?: string[];
}

export interface EtcdMemberReply {
  id: string;
  name: string;
  peerURLs: string[];
  clientURLs: string[];
  isLearner: boolean;
}

/** etcd errors the core reacts to, typed by gRPC code. */
export type EtcdErrorKind = 'precondition' | 'not-found' | 'unavailable' | 'timeout' | 'other';

export class EtcdError extends Error {
  constructor(
    readonly kind: EtcdErrorKind,
    message: string,
    readonly grpcCode?: number,
  ) {
    super(message);
    this.name = 'EtcdError';
  }
}

/**
 * etcd's cluster and maintenance API, addressed by client endpoint (`https://10.0.1.5:2379`).
 * Membership calls go to a started voter; move-leader goes to the current leader.
 */
export interface EtcdPort {
  listMembers(endpoint: string): Promise<EtcdMemberReply[]>;
  addLearner(
    endpoint: string,
    peerURL: string,
  ): Promise<{ member: EtcdMemberReply; members: EtcdMemberReply[] }>;
  promoteMember(endpoint: string, memberId: string): Promise<void>;
  removeMember(endpoint: string, memberId: string): Promise<void>;
  status(endpoint: string): Promise<EtcdMemberStatusReply>;
  moveLeader(leaderEndpoint: string, targetMemberId: string): Promise<void>;
  alarms(endpoint: string): Promise<Array<{ memberId: string; alarm: string }>>;
}

/** Probes a master's own API server (`https://<ip>:6443/readyz`), never through the load balancer. */
export interface NodeProbePort {
  apiReady(privateIp: string): Promise<boolean>;
}

/**
 * Where snapshots go before membership changes (S3 in AWS). The Lambda's port only requests one (a
 * snapshot invocation of its own) and answers `{ requested }` at once; a store that writes the
 * snapshot itself (the simulator, tests) answers what it wrote.
 */
export interface BackupPort {
  snapshot(
    fromEndpoint: string,
    reason: string,
  ): Promise<{ key: string; bytes: number; sha256: string } | { requested: string }>;
}

/**
 * True when an error from `completeLifecycleAction` means the action was already completed (or timed
 * out): Auto Scaling answers `ValidationError: No active Lifecycle Action found with instance ID ...`.
 * The executor treats it as success (rule 8: complete a lifecycle action once).
 */
export function isNoActiveLifecycleAction(e: unknown): boolean {
  const msg = e instanceof Error ? e.message : String(e);
  return /no active lifecycle action/i.test(msg);
}

export interface Clock {
  now(): number;
  /**
   * Waits `ms` (the Lambda: a timer; the simulator: virtual time). Only for short, bounded waits
   * inside a pass, such as etcd electing a new leader after the old one died.
   */
  sleep?(ms: number): Promise<void>;
}

/**
 * What settling the worker group's lifecycle hooks needs (worker-hooks.ts): it reads the instances
 * waiting on a hook, their EC2 state, the service target groups, and the workers' records (when the
 * reconciler first saw one leave, the node's `drained` signal and who wrote it); it completes or
 * heartbeats hooks, deregisters leaving workers and keeps or forgets those records.
 */
export interface WorkerHookPort {
  fleet: Pick<FleetPort, 'completeLifecycleAction' | 'recordLifecycleHeartbeat'> & {
    /** The group's instances and their lifecycle states (no more: not their addresses). */
    describeGroup(
      groupName: string,
      opts?: { warmPool?: boolean },
    ): Promise<{ instances: ReadonlyArray<Pick<FleetInstance, 'instanceId' | 'lifecycleState'>> }>;
  };
  loadBalancer: Pick<LoadBalancerPort, 'describeTargets' | 'deregisterTarget'> & TargetDrainPort;
  parameters: Pick<ParameterPort, 'getByPath' | 'writers' | 'put' | 'delete'>;
  /**
   * EC2 state of each instance (`running`, `pending`, ...), in one read whatever their number; an
   * instance EC2 does not know is absent.
   */
  instanceStates(instanceIds: readonly string[]): Promise<Readonly<Record<string, string>>>;
  clock: Clock;
}

export interface HealPorts {
  fleet: FleetPort;
  loadBalancer: LoadBalancerPort;
  parameters: ParameterPort;
  etcd: EtcdPort;
  probe: NodeProbePort;
  backup?: BackupPort;
  clock: Clock;
}
