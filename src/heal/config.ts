/**
 * What the reconciler needs to know about a cluster. The provisioner derives it from the spec and
 * publishes it as JSON in SSM (`/tripod/<cluster>/config`); the Lambda and the simulator read it.
 */
import { resourceNames } from '../contract/names.js';
import { ETCD_CLIENT_PORT, ETCD_PEER_PORT } from '../contract/protocol.js';
import type { ClusterSpec } from '../spec/schema.js';
import { deriveTopology } from '../spec/topology.js';

export interface ReconcilerConfig {
  cluster: string;
  region: string;
  zones: string[];
  /** M: the number of voting members the cluster should have. */
  expectedMasters: number;
  masterGroupName: string;
  workerGroupName: string;
  /** Filled by the provisioner once the target group exists (the simulator uses its own ids). */
  apiTargetGroupArn: string;
  serviceTargetGroupArns: string[];
  etcdScheme: 'https' | 'http';
  etcdClientPort: number;
  etcdPeerPort: number;
  /** A member unhealthy longer than this gets its instance replaced (debounced death, rule 7). */
  memberUnhealthyMs: number;
  /** A master still in Pending:Wait without a ready API after this long is abandoned. */
  bootTimeoutMs: number;
  /** A learner within this many raft entries of the leader is promoted. */
  learnerMaxLag: number;
  /**
   * The API load balancer's own DNS name (filled by the provisioner once it exists): the masters put
   * it in the API server certificate beside `apiEndpoint.dnsName` (src/bootstrap/scripts/master.sh).
   */
  apiLoadBalancerDnsName?: string;
  /** The etcd snapshot bucket (the provisioner's backup bucket); no scheduled backups without it. */
  backupBucket?: string;
  /** Minutes between scheduled snapshots (spec `etcd.backupIntervalMinutes`; default 15). */
  backupIntervalMinutes?: number;
  /** Days daily snapshots are kept (spec `etcd.backupRetentionDays`; default 30). */
  backupRetentionDays?: number;
}

export const DEFAULT_BACKUP_SCHEDULE = { intervalMinutes: 15, retentionDays: 30 } as const;

/** The scheduled-backup settings of a configuration (defaults for one written before they existed). */
export function backupSchedule(config: ReconcilerConfig): { intervalMinutes: number; retentionDays: number } {
  return {
    intervalMinutes: config.backupIntervalMinutes ?? DEFAULT_BACKUP_SCHEDULE.intervalMinutes,
    retentionDays: config.backupRetentionDays ?? DEFAULT_BACKUP_SCHEDULE.retentionDays,
  };
}

export function reconcilerConfigFromSpec(
  spec: ClusterSpec,
  arns: {
    apiTargetGroupArn: string;
    serviceTargetGroupArns: string[];
    backupBucket?: string;
    apiLoadBalancerDnsName?: string;
  },
): ReconcilerConfig {
  const names = resourceNames(spec.name);
  const topology = deriveTopology(spec);
  return {
    cluster: spec.name,
    region: spec.region,
    zones: [...spec.network.zones],
    expectedMasters: topology.masters,
    masterGroupName: names.masterGroup,
    workerGroupName: names.workerGroup,
    apiTargetGroupArn: arns.apiTargetGroupArn,
    serviceTargetGroupArns: arns.serviceTargetGroupArns,
    etcdScheme: 'https',
    etcdClientPort: ETCD_CLIENT_PORT,
    etcdPeerPort: ETCD_PEER_PORT,
    memberUnhealthyMs: spec.reconciler.memberUnhealthySeconds * 1000,
    bootTimeoutMs: Math.max(spec.reconciler.lifecycleHeartbeatSeconds, 900) * 1000,
    learnerMaxLag: 100,
    ...(arns.apiLoadBalancerDnsName ? { apiLoadBalancerDnsName: arns.apiLoadBalancerDnsName } : {}),
    ...(arns.backupBucket
      ? {
          backupBucket: arns.backupBucket,
          backupIntervalMinutes: spec.etcd.backupIntervalMinutes,
          backupRetentionDays: spec.etcd.backupRetentionDays,
        }
      : {}),
  };
}
