/**
 * What one look at an upgrade sees: the master and worker groups (each instance with the launch
 * template version it was launched from), the groups' latest instance refreshes, the reconciler's
 * status document (etcd members and quorum: the runner cannot reach etcd, the reconciler can) and
 * the upgrade record tripod keeps in SSM. `plan.ts` decides the next step as a pure function of it.
 */
import type { StatusDocument } from '../heal/status.js';

export interface UpgradeInstance {
  instanceId: string;
  zone: string;
  lifecycleState: string;
  health: string;
  /** Launch template version the instance was launched from ('' when unknown). */
  version: string;
}

export interface GroupView {
  name: string;
  desired: number;
  /** The launch template version new instances get (the provisioner makes the new one the default). */
  targetVersion: string;
  instances: UpgradeInstance[];
}

/** Auto Scaling's instance refresh statuses. */
export type RefreshStatus =
  | 'Pending'
  | 'InProgress'
  | 'Successful'
  | 'Failed'
  | 'Cancelling'
  | 'Cancelled'
  | 'RollbackInProgress'
  | 'RollbackFailed'
  | 'RollbackSuccessful'
  | 'Baking';

export const ACTIVE_REFRESH: ReadonlySet<RefreshStatus> = new Set([
  'Pending',
  'InProgress',
  'Cancelling',
  'RollbackInProgress',
  'Baking',
]);

export interface RefreshView {
  id: string;
  status: RefreshStatus;
  statusReason?: string;
  percentageComplete?: number;
  instancesToUpdate?: number;
  /** The launch template version the refresh replaces instances with. */
  desiredVersion?: string;
  /** Epoch ms. */
  startTime: number;
}

/** How a refresh is asked to replace instances. */
export interface RefreshPreferences {
  minHealthyPercentage: number;
  maxHealthyPercentage: number;
  skipMatching: boolean;
  instanceWarmupSeconds: number;
  /** Percentages at which the refresh records a checkpoint (one per master). */
  checkpointPercentages?: number[];
  checkpointDelaySeconds?: number;
}

/** Kept in SSM (`upgradeParameter`): what runs now, and the upgrade in progress if any. */
export interface UpgradeRecord {
  /** The Kubernetes version every node runs (after the last completed upgrade). */
  kubernetesVersion?: string;
  inProgress?: {
    kubernetesVersion: string;
    masterVersion: string;
    workerVersion?: string;
    /** Launch template versions before the upgrade (what `abort` goes back to). */
    previousMasterVersion: string;
    previousWorkerVersion?: string;
    startedAt: string;
    aborting?: true;
  };
}

export interface UpgradeObserved {
  now: number;
  masters: GroupView;
  /** Undefined when the cluster has no worker group. */
  workers: GroupView | undefined;
  masterRefresh: RefreshView | undefined;
  workerRefresh: RefreshView | undefined;
  /** The reconciler's last status document (undefined: none published). */
  status: StatusDocument | undefined;
  record: UpgradeRecord;
  /** Kubernetes version running before, when nothing recorded it (the group's tag), else undefined. */
  runningKubernetesVersion: string | undefined;
}

/** Instances that count: not on their way out. */
export const liveInstances = (g: GroupView): UpgradeInstance[] =>
  g.instances.filter(
    (i) => !i.lifecycleState.startsWith('Terminat') && !i.lifecycleState.startsWith('Detach'),
  );

export const outdated = (g: GroupView, version: string): UpgradeInstance[] =>
  liveInstances(g).filter((i) => i.version !== version);

/** The upgrade record's SSM parameter. */
export const upgradeParameter = (cluster: string) => `/tripod/${cluster}/upgrade`;
