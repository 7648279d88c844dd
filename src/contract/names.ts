/**
 * The AWS names of a cluster's resources: one place, so the provisioner, the reconciler config and
 * the simulator agree. ELBv2 names are at most 32 characters: cluster names are at most 20.
 */
import { clusterRoleName } from './protocol.js';

export function resourceNames(cluster: string) {
  return {
    masterGroup: `${cluster}-masters`,
    workerGroup: `${cluster}-workers`,
    masterLaunchTemplate: `${cluster}-masters`,
    workerLaunchTemplate: `${cluster}-workers`,
    masterLaunchingHook: 'tripod-master-launching',
    masterTerminatingHook: 'tripod-master-terminating',
    workerLaunchingHook: 'tripod-worker-launching',
    workerTerminatingHook: 'tripod-worker-terminating',
    apiLoadBalancer: `${cluster}-api`,
    apiTargetGroup: `${cluster}-api`,
    serviceLoadBalancer: `${cluster}-svc`,
    serviceTargetGroup: (port: number) => `${cluster}-svc-${port}`,
    masterSecurityGroup: `${cluster}-masters`,
    workerSecurityGroup: `${cluster}-workers`,
    loadBalancerSecurityGroup: `${cluster}-lb`,
    reconcilerSecurityGroup: `${cluster}-reconciler`,
    reconcilerFunction: `${cluster}-reconciler`,
    eventRule: (what: EventRuleName) => `${cluster}-${what}`,
    /** Names of VPC resources (the Name tag). */
    vpc: `${cluster}`,
    subnet: (tier: 'public' | 'private', zone: string) => `${cluster}-${tier}-${zone}`,
    natGateway: (zone: string) => `${cluster}-nat-${zone}`,
    routeTable: (tier: 'public' | 'private', zone?: string) =>
      zone ? `${cluster}-${tier}-${zone}` : `${cluster}-${tier}`,
  };
}
export type ResourceNames = ReturnType<typeof resourceNames>;

/** The EventBridge rules tripod creates for a cluster (its name is `<cluster>-<rule>`). */
export const EVENT_RULES = ['lifecycle', 'instance-state', 'node-ready', 'schedule'] as const;
export type EventRuleName = (typeof EVENT_RULES)[number];

/** The EC2 states the `instance-state` rule forwards: an instance going away (pending/running are not). */
export const INSTANCE_GONE_STATES = ['stopping', 'stopped', 'shutting-down', 'terminated'] as const;

/** On EC2 network resources: which desired resource this is (`subnet/private/eu-west-1a`). */
export const RESOURCE_TAG = 'tripod:resource';

/**
 * The cluster's own roles, made by infra/tripod-cluster.yaml (one stack per cluster): each names this
 * cluster's resources only. The masters' instance profile:
 */
export const DEFAULT_NODE_INSTANCE_PROFILE = (cluster: string) => clusterRoleName(cluster, 'master');
/** The workers' instance profile: reads the worker join document only, never the CA keys. */
export const DEFAULT_WORKER_INSTANCE_PROFILE = (cluster: string) => clusterRoleName(cluster, 'worker');
/** The reconciler's execution role. */
export const DEFAULT_RECONCILER_ROLE = (cluster: string) => clusterRoleName(cluster, 'reconciler');
/** The cluster's KMS key (SecureStrings under /tripod/<cluster>/, etcd snapshots). */
export const clusterKeyAlias = (cluster: string) => `alias/tripod-${cluster}`;
