/**
 * What the reconciler needs to know about a cluster. The provisioner derives it from the spec and
 * publishes it as JSON in SSM (`/tripod/<cluster>/config`); the Lambda and the simulator read it.
 */
import * as z from 'zod/mini';
import type { ClusterSpec } from '../cluster-spec/schema.js';
import { deriveTopology } from '../cluster-spec/topology.js';
import { resourceNames } from '../contract/names.js';
import { ETCD_CLIENT_PORT, ETCD_PEER_PORT } from '../contract/protocol.js';

const nonEmpty = z.string().check(z.minLength(1));

/**
 * The configuration's schema: the type is derived from it, and the Lambda checks what it reads from
 * SSM against it (fields it does not know, from a newer provisioner, are dropped).
 */
export const reconcilerConfigSchema = z.object({
  cluster: nonEmpty,
  region: nonEmpty,
  zones: z.array(z.string()),
  /** M: the number of voting members the cluster should have. */
  expectedMasters: z.int().check(z.positive()),
  masterGroupName: nonEmpty,
  workerGroupName: nonEmpty,
  /** Filled by the provisioner once the target group exists (the simulator uses its own ids). */
  apiTargetGroupArn: z.string(),
  serviceTargetGroupArns: z.array(z.string()),
  etcdScheme: z.enum(['https', 'http']),
  etcdClientPort: z.int(),
  etcdPeerPort: z.int(),
  /** A member unhealthy longer than this gets its instance replaced (debounced death, rule 7). */
  memberUnhealthyMs: z.number(),
  /** A master still in Pending:Wait without a ready API after this long is abandoned. */
  bootTimeoutMs: z.number(),
  /** A learner within this many raft entries of the leader is promoted. */
  learnerMaxLag: z.number(),
  /**
   * The API load balancer's own DNS name (filled by the provisioner once it exists): the masters put
   * it in the API server certificate beside `apiEndpoint.dnsName` (src/bootstrap/scripts/master.sh).
   */
  apiLoadBalancerDnsName: z.optional(z.string()),
  /** The etcd snapshot bucket (the provisioner's backup bucket); no scheduled backups without it. */
  backupBucket: z.optional(z.string()),
  /** Minutes between scheduled snapshots (spec `etcd.backupIntervalMinutes`; default 15). */
  backupIntervalMinutes: z.optional(z.number().check(z.positive())),
  /** Days daily snapshots are kept (spec `etcd.backupRetentionDays`; default 30). */
  backupRetentionDays: z.optional(z.int().check(z.positive())),
  /**
   * Whether the master group has a warm pool (spec `masters.warmPool.size` above 0). False: the
   * reconciler does not call DescribeWarmPool. Absent (a configuration written by a tripod from before
   * this field): not known, so it is read every pass as before (tolerating AccessDenied).
   */
  masterWarmPool: z.optional(z.boolean()),
});

export type ReconcilerConfig = z.infer<typeof reconcilerConfigSchema>;

/**
 * The configuration of `cluster` from its parameter's text (`name` for the messages), or why it is
 * not one: not JSON, a field that does not fit (named by its path), or another cluster's.
 */
export function parseReconcilerConfig(
  text: string,
  cluster: string,
  name: string,
): { ok: true; config: ReconcilerConfig } | { ok: false; problem: string } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    return { ok: false, problem: `${name}: not JSON (${(e as Error).message})` };
  }
  const parsed = reconcilerConfigSchema.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    return { ok: false, problem: `${name}: not a reconciler configuration: ${issues}` };
  }
  if (parsed.data.cluster !== cluster) {
    return {
      ok: false,
      problem: `${name}: holds the configuration of cluster ${parsed.data.cluster}, not ${cluster}`,
    };
  }
  return { ok: true, config: parsed.data };
}

/**
 * Whether a pass reads the master group's warm pool (DescribeWarmPool): unless the configuration
 * says the group has none. A configuration without the field (an older tripod's) keeps reading it.
 */
export const readsMasterWarmPool = (config: Pick<ReconcilerConfig, 'masterWarmPool'>): boolean =>
  config.masterWarmPool !== false;

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
    masterWarmPool: spec.masters.warmPool.size > 0,
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
