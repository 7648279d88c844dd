/**
 * spec -> the desired resources of a cluster, as plain values keyed by stable keys
 * (`subnet/private/eu-west-1a`, `tg/svc-443`, ...). Pure: no AWS calls. References between resources
 * are keys; their ids are resolved when planning (from what exists) and applying (from what was made).
 */
import { renderUserData } from '../bootstrap/render.js';
import type { ClusterSpec } from '../cluster-spec/schema.js';
import { deriveTopology, type Topology } from '../cluster-spec/topology.js';
import {
  clusterKeyAlias,
  DEFAULT_NODE_INSTANCE_PROFILE,
  DEFAULT_RECONCILER_ROLE,
  DEFAULT_WORKER_INSTANCE_PROFILE,
  INSTANCE_GONE_STATES,
  RESOURCE_TAG,
  resourceNames,
} from '../contract/names.js';
import {
  clusterRoleName,
  configParameter,
  NODE_DETAIL_TYPES,
  NODE_EVENT_SOURCE,
  ROLE_TAG,
} from '../contract/protocol.js';
import { RECONCILER_PACKAGE } from '../contract/reconciler-package.js';
import { reconcilerConfigFromSpec } from '../heal/config.js';
import { desiredApiLoadBalancer } from './api-load-balancer.js';
import { autoScalingGroupKind } from './auto-scaling-group.js';
import { backupBucketDesired, desiredBackupBucket, partitionOf } from './backup-bucket.js';
import { dnsKind } from './dns.js';
import { type DesiredRule as DesiredEventRule, eventRuleKind } from './event-rules.js';
import { type DesiredLaunchTemplate, launchTemplateKind } from './launch-templates.js';
import { desiredMasterGroup } from './master-group.js';
import {
  internetGatewayKind,
  natGatewayKind,
  routeTableKind,
  subnetKind,
  vpcKind,
  zoneSubnetCidrs,
} from './network.js';
import { type DesiredParameter, parameterKind } from './parameters.js';
import { defaultReconcilerBundle } from './reconciler-bundle.js';
import { type DesiredFunction, reconcilerFunctionKind } from './reconciler-function.js';
import {
  type Desired,
  desire,
  ownerTags,
  type ReconcilerBundle,
  type Refs,
  type ResourceKind,
} from './resource.js';
import {
  type DesiredRule,
  type DesiredRules,
  type DesiredSecurityGroup,
  KUBE_PROXY_HEALTH_PORT,
  KUBELET_PORT,
  OVERLAY_PORT,
  securityGroupKind,
  securityGroupRulesKind,
} from './security-groups.js';
import { desiredServiceLoadBalancer } from './service-load-balancer.js';
import { desiredMasterWarmPool, WARM_POOL_KEY, warmPoolKind } from './warm-pool.js';
import { desiredWorkerGroup } from './worker-group.js';

export interface DesiredOptions {
  /** Instance profile of the masters (default `tripod-<cluster>-master`, made by infra/tripod-cluster.yaml). */
  nodeInstanceProfile?: string;
  /** Instance profile of the workers (default `tripod-<cluster>-worker`: no access to the CA keys). */
  workerInstanceProfile?: string;
  /** The reconciler's code; the shipped bundle (dist/lambdas/reconciler.zip) when absent. */
  reconcilerBundle?: ReconcilerBundle;
  /** The reconciler's execution role (default: role `tripod-<cluster>-reconciler` in the cluster's account). */
  reconcilerRoleArn?: string;
  /**
   * The account the cluster lives in: names the backup bucket (`tripod-<cluster>-<account>-<region>-backups`),
   * which the provisioner then manages and records in the cluster configuration. The plan reads it
   * with sts:GetCallerIdentity when absent.
   */
  accountId?: string;
  /** A backup bucket made outside the provisioner: recorded in the configuration, not managed. */
  backupBucket?: string;
}

export interface DesiredCluster {
  topology: Topology;
  /** Existing network from the spec (vpcId + private subnets + public subnets): zone -> id, no resources. */
  existingNetwork: ExistingNetwork | undefined;
  resources: Desired[];
}

export interface ExistingNetwork {
  vpcId: string;
  /** Private subnets (nodes, the reconciler function, internal load balancers) by zone. */
  subnets: Record<string, string>;
  /** Public subnets (internet-facing load balancers) by zone; empty when no load balancer faces the internet. */
  publicSubnets: Record<string, string>;
}

/** The key of the node subnet (private: nodes, the reconciler function, internal load balancers) in a zone. */
export const nodeSubnetKey = (spec: ClusterSpec, zone: string) =>
  spec.network.cidr ? `subnet/private/${zone}` : `subnet/existing/${zone}`;
/** The key of the public subnet (internet-facing load balancers) in a zone. */
export const publicSubnetKey = (spec: ClusterSpec, zone: string) =>
  spec.network.cidr ? `subnet/public/${zone}` : `subnet/existing-public/${zone}`;

export function desiredCluster(spec: ClusterSpec, options: DesiredOptions = {}): DesiredCluster {
  const topology = deriveTopology(spec);
  const names = resourceNames(spec.name);
  const tags = ownerTags(spec);
  const zones = spec.network.zones;
  const out: Desired[] = [];
  const add = <D>(key: string, kind: ResourceKind<D>, title: string, value: D) =>
    out.push(desire(kind, key, title, value));
  const withKey = (key: string, name: string) => ({ ...tags, [RESOURCE_TAG]: key, Name: name });

  // ---- network (only when tripod makes it) ----
  if (spec.network.cidr) {
    const cidrs = zoneSubnetCidrs(spec.network.cidr, zones);
    add('vpc', vpcKind, `VPC ${spec.network.cidr}`, {
      cidr: spec.network.cidr,
      tags: withKey('vpc', names.vpc),
    });
    add('igw', internetGatewayKind, 'internet gateway', { tags: withKey('igw', names.vpc) });
    for (const zone of zones) {
      const c = cidrs.get(zone)!;
      for (const tier of ['public', 'private'] as const) {
        const key = `subnet/${tier}/${zone}`;
        add(key, subnetKind, `${tier} subnet ${zone} ${c[tier]}`, {
          zone,
          cidr: c[tier],
          public: tier === 'public',
          tags: withKey(key, names.subnet(tier, zone)),
        });
      }
    }
    for (const zone of zones) {
      add(`nat/${zone}`, natGatewayKind, `NAT gateway ${zone}`, {
        zone,
        subnet: `subnet/public/${zone}`,
        tags: withKey(`nat/${zone}`, names.natGateway(zone)),
      });
    }
    add('rtb/public', routeTableKind, 'public route table (-> internet gateway)', {
      defaultRoute: { gateway: 'igw' },
      subnets: zones.map((z) => `subnet/public/${z}`),
      tags: withKey('rtb/public', names.routeTable('public')),
    });
    for (const zone of zones) {
      add(`rtb/private/${zone}`, routeTableKind, `private route table ${zone} (-> NAT ${zone})`, {
        defaultRoute: { natGateway: `nat/${zone}` },
        subnets: [`subnet/private/${zone}`],
        tags: withKey(`rtb/private/${zone}`, names.routeTable('private', zone)),
      });
    }
  }

  const nodeSubnets = zones.map((z) => nodeSubnetKey(spec, z));
  // Internet-facing load balancers in the public subnets, everything else (internal load balancers,
  // nodes, the reconciler function) in the private ones, in both network modes.
  const lbSubnets = (scheme: 'internal' | 'internet-facing') =>
    scheme === 'internet-facing' ? zones.map((z) => publicSubnetKey(spec, z)) : nodeSubnets;

  // ---- security groups ----
  const groups: Array<[DesiredSecurityGroup['role'], string, string]> = [
    ['lb', names.loadBalancerSecurityGroup, 'tripod load balancers'],
    ['masters', names.masterSecurityGroup, 'tripod masters (API server, etcd)'],
    ['workers', names.workerSecurityGroup, 'tripod workers'],
    ['reconciler', names.reconcilerSecurityGroup, 'tripod reconciler (etcd client)'],
  ];
  for (const [role, name, description] of groups) {
    add(`sg/${role}`, securityGroupKind, `security group ${name}`, {
      role,
      name,
      description: `${description} of cluster ${spec.name}`,
      tags: { ...tags, Name: name },
    });
  }
  const rules = securityRules(spec);
  for (const [role] of groups) {
    add(`sg-rules/${role}`, securityGroupRulesKind, `ingress rules of ${role}`, {
      group: `sg/${role}`,
      rules: rules[role],
    } satisfies DesiredRules);
  }

  // ---- launch templates ----
  const profiles = {
    masters: options.nodeInstanceProfile ?? DEFAULT_NODE_INSTANCE_PROFILE(spec.name),
    workers: options.workerInstanceProfile ?? DEFAULT_WORKER_INSTANCE_PROFILE(spec.name),
  };
  for (const role of ['masters', 'workers'] as const) {
    const pool = role === 'masters' ? spec.masters : spec.workers;
    const name = role === 'masters' ? names.masterLaunchTemplate : names.workerLaunchTemplate;
    add(`lt/${role}`, launchTemplateKind, `launch template ${name}`, {
      name,
      image: pool.image,
      instanceType: pool.instanceType,
      instanceProfile: profiles[role],
      securityGroups: [`sg/${role}`],
      userData: renderUserData(spec, role === 'masters' ? 'master' : 'worker'),
      volumeSize: pool.volumeSize,
      instanceTags: { ...tags, Name: name, [ROLE_TAG]: role },
      tags,
    } satisfies DesiredLaunchTemplate);
  }

  // ---- load balancers ----
  out.push(...desiredApiLoadBalancer(spec, lbSubnets(spec.apiEndpoint.scheme)));
  out.push(...desiredServiceLoadBalancer(spec, lbSubnets(spec.serviceEndpoint.scheme)));

  // ---- groups ----
  add(
    'asg/masters',
    autoScalingGroupKind,
    `master group ${names.masterGroup} (${topology.masters})`,
    desiredMasterGroup(spec, topology, nodeSubnets),
  );
  add(
    'asg/workers',
    autoScalingGroupKind,
    `worker group ${names.workerGroup}`,
    desiredWorkerGroup(spec, nodeSubnets),
  );
  const warmPool = desiredMasterWarmPool(spec);
  if (warmPool)
    add(
      WARM_POOL_KEY,
      warmPoolKind,
      `warm pool of ${names.masterGroup} (${warmPool.minSize} ${warmPool.poolState.toLowerCase()})`,
      warmPool,
    );

  // ---- DNS ----
  for (const [key, ep, lb] of [
    ['dns/api', spec.apiEndpoint, 'lb/api'],
    ['dns/svc', spec.serviceEndpoint, 'lb/svc'],
  ] as const) {
    if (ep.dnsName && ep.hostedZoneId) {
      add(key, dnsKind, `alias record ${ep.dnsName}`, {
        hostedZoneId: ep.hostedZoneId,
        name: ep.dnsName,
        loadBalancer: lb,
      });
    }
  }

  // ---- etcd backups ----
  const bucket = options.backupBucket
    ? undefined
    : options.accountId
      ? desiredBackupBucket({
          cluster: spec.name,
          region: spec.region,
          accountId: options.accountId,
          tags,
          // The cluster's own key (infra/tripod-cluster.yaml), not the account-wide `aws/s3`.
          kmsKeyId: clusterKeyAlias(spec.name),
          // Only the reconciler (snapshots), the masters (a restore's seed) and the cluster's administrators
          // (tripod restore) reach the objects.
          snapshotRoles: [
            options.reconcilerRoleArn ??
              `arn:${partitionOf(spec.region)}:iam::${options.accountId}:role/${DEFAULT_RECONCILER_ROLE(spec.name)}`,
            `arn:${partitionOf(spec.region)}:iam::${options.accountId}:role/${DEFAULT_NODE_INSTANCE_PROFILE(spec.name)}`,
            // the cluster's administrators: tripod restore verifies the snapshot before anything changes
            `arn:${partitionOf(spec.region)}:iam::${options.accountId}:role/${clusterRoleName(spec.name, 'admin')}`,
          ],
        })
      : undefined;
  if (bucket) out.push(backupBucketDesired(bucket));
  const backupBucket = options.backupBucket ?? bucket?.name;

  // ---- configuration ----
  const svcTgs = spec.serviceEndpoint.ports.map((p) => `tg/svc-${p.port}`);
  add('param/config', parameterKind, `parameter ${configParameter(spec.name)}`, {
    name: configParameter(spec.name),
    render: (refs: Refs) =>
      JSON.stringify(
        reconcilerConfigFromSpec(spec, {
          apiTargetGroupArn: refs.get('tg/api', 'arn'),
          serviceTargetGroupArns: svcTgs.map((t) => refs.get(t, 'arn')),
          apiLoadBalancerDnsName: refs.get('lb/api', 'dnsName'),
          ...(backupBucket ? { backupBucket } : {}),
        }),
      ),
    tags,
  } satisfies DesiredParameter);

  // ---- reconciler function and events ----
  const target = spec.reconciler.functionArn
    ? { arn: spec.reconciler.functionArn }
    : { key: 'fn/reconciler' };
  if (!spec.reconciler.functionArn) {
    add('fn/reconciler', reconcilerFunctionKind, `reconciler function ${names.reconcilerFunction}`, {
      name: names.reconcilerFunction,
      bundle: options.reconcilerBundle ?? defaultReconcilerBundle(),
      role: options.reconcilerRoleArn
        ? { arn: options.reconcilerRoleArn }
        : { name: DEFAULT_RECONCILER_ROLE(spec.name) },
      subnets: nodeSubnets,
      securityGroups: ['sg/reconciler'],
      environment: { TRIPOD_CLUSTER: spec.name, TRIPOD_CONFIG_PARAMETER: configParameter(spec.name) },
      timeoutSeconds: RECONCILER_PACKAGE.timeoutSeconds,
      memoryMb: RECONCILER_PACKAGE.memoryMb,
      architecture: RECONCILER_PACKAGE.architectures[0],
      reservedConcurrency: RECONCILER_PACKAGE.reservedConcurrency,
      eventInvoke: { ...RECONCILER_PACKAGE.eventInvoke },
      tags,
    } satisfies DesiredFunction);
  }
  const rule = (
    what: Parameters<typeof names.eventRule>[0],
    description: string,
    body: Partial<DesiredEventRule>,
  ) =>
    add(`rule/${what}`, eventRuleKind, `event rule ${names.eventRule(what)}`, {
      name: names.eventRule(what),
      description: `${description} (tripod cluster ${spec.name})`,
      target,
      tags,
      ...body,
    } satisfies DesiredEventRule);
  rule('lifecycle', 'lifecycle actions of the master and worker groups', {
    eventPattern: {
      source: ['aws.autoscaling'],
      'detail-type': [
        'EC2 Instance-launch Lifecycle Action',
        'EC2 Instance-terminate Lifecycle Action',
        'EC2 Instance Launch Successful',
        'EC2 Instance Launch Unsuccessful',
        'EC2 Instance Terminate Successful',
        'EC2 Instance Terminate Unsuccessful',
      ],
      detail: { AutoScalingGroupName: [names.masterGroup, names.workerGroup] },
    },
  });
  // EC2 state changes cannot be filtered by tag: match only an instance going away (what the
  // lifecycle hooks miss when someone stops or terminates it outside Auto Scaling). Launches come
  // through the lifecycle and node-ready rules; the schedule covers the rest.
  rule('instance-state', 'EC2 instances stopping or terminating', {
    eventPattern: {
      source: ['aws.ec2'],
      'detail-type': ['EC2 Instance State-change Notification'],
      detail: { state: [...INSTANCE_GONE_STATES] },
    },
  });
  rule('node-ready', 'nodes reporting a started etcd member or a ready API server', {
    eventPattern: {
      source: [NODE_EVENT_SOURCE],
      'detail-type': [...NODE_DETAIL_TYPES],
      detail: { cluster: [spec.name] },
    },
  });
  rule('schedule', 'periodic reconcile (events are best effort)', { schedule: 'rate(1 minute)' });

  return {
    topology,
    existingNetwork:
      spec.network.vpcId && spec.network.subnets
        ? {
            vpcId: spec.network.vpcId,
            subnets: { ...spec.network.subnets },
            publicSubnets: { ...spec.network.publicSubnets },
          }
        : undefined,
    resources: out,
  };
}

/**
 * Who may reach the API (6443) through its load balancer: `apiEndpoint.allowedCidrs` (default: the
 * VPC's CIDR for an internal endpoint, 0.0.0.0/0 for an internet-facing one, which plan warns about),
 * and always the nodes: the workers join and run their kubelets through it. An internal load balancer
 * sees a worker's own address (its security group is admitted); to an internet-facing one the workers'
 * traffic arrives from their zone's NAT gateway (the NAT gateways tripod makes are admitted; with
 * `vpcId` the spec's allowedCidrs must name the NAT's addresses).
 */
function apiRules(spec: ClusterSpec): DesiredRule[] {
  const rule = (source: DesiredRule['source'], description: string): DesiredRule => ({
    protocol: 'tcp',
    from: 6443,
    to: 6443,
    source,
    description,
  });
  const internal = spec.apiEndpoint.scheme === 'internal';
  const given = spec.apiEndpoint.allowedCidrs;
  const allowed: DesiredRule['source'][] = given
    ? given.map((cidr) => ({ cidr }))
    : internal
      ? [spec.network.cidr ? { cidr: spec.network.cidr } : { cidrOf: 'vpc' }]
      : [{ cidr: '0.0.0.0/0' }];
  // The VPC tripod makes holds every node; a given range or an existing VPC's CIDR may not.
  const nodes: DesiredRule['source'][] = internal
    ? given || !spec.network.cidr
      ? [{ group: 'sg/workers' }]
      : []
    : given && spec.network.cidr
      ? spec.network.zones.map((z) => ({ cidrOf: `nat/${z}` }))
      : [];
  return [
    ...allowed.map((s) => rule(s, 'Kubernetes API')),
    ...nodes.map((s) => rule(s, 'Kubernetes API: workers')),
  ];
}

/**
 * Ingress of each group. etcd (2379-2380) only between masters, plus the reconciler on the client
 * port; the API (6443) from the load balancers, workers, masters and the reconciler (its /readyz
 * probe); the kubelet (10250) from the masters; the VXLAN overlay (UDP 8472) between all nodes; each
 * service nodePort from the load balancers, and kube-proxy's health port (10256) from them when a
 * service port is UDP or TCP_UDP. src/sim/network.ts checks every connection of the system against these.
 */
function securityRules(spec: ClusterSpec): Record<DesiredSecurityGroup['role'], DesiredRule[]> {
  const tcp = (from: number, to: number, source: string, description: string): DesiredRule => ({
    protocol: 'tcp',
    from,
    to,
    source: source.includes('/') && !source.startsWith('sg/') ? { cidr: source } : { group: source },
    description,
  });
  const udp = (port: number, source: string, description: string): DesiredRule => ({
    ...tcp(port, port, source, description),
    protocol: 'udp',
  });
  const nodePorts = (source: string) =>
    spec.serviceEndpoint.ports.flatMap((p) => {
      const d = `service port ${p.port}`;
      if (p.protocol === 'UDP') return [udp(p.nodePort, source, d)];
      if (p.protocol === 'TCP_UDP')
        return [tcp(p.nodePort, p.nodePort, source, d), udp(p.nodePort, source, d)];
      return [tcp(p.nodePort, p.nodePort, source, d)];
    });
  // UDP and TCP_UDP ports are health-checked on kube-proxy's /healthz (service-load-balancer.ts).
  const proxyHealth = (source: string) =>
    spec.serviceEndpoint.ports.some((p) => p.protocol !== 'TCP')
      ? [
          tcp(
            KUBE_PROXY_HEALTH_PORT,
            KUBE_PROXY_HEALTH_PORT,
            source,
            'kube-proxy health (UDP service health checks)',
          ),
        ]
      : [];
  const listenerRules = spec.serviceEndpoint.ports.flatMap((p) => {
    const d = `service listener ${p.port}`;
    if (p.protocol === 'UDP') return [udp(p.port, '0.0.0.0/0', d)];
    if (p.protocol === 'TCP_UDP') return [tcp(p.port, p.port, '0.0.0.0/0', d), udp(p.port, '0.0.0.0/0', d)];
    return [tcp(p.port, p.port, '0.0.0.0/0', d)];
  });
  return {
    lb: [...apiRules(spec), ...listenerRules],
    masters: [
      tcp(6443, 6443, 'sg/lb', 'API from the load balancer'),
      tcp(6443, 6443, 'sg/workers', 'API from workers'),
      tcp(6443, 6443, 'sg/masters', 'API from masters'),
      tcp(2379, 2380, 'sg/masters', 'etcd between masters'),
      tcp(2379, 2379, 'sg/reconciler', 'etcd client: reconciler'),
      tcp(6443, 6443, 'sg/reconciler', 'API /readyz: reconciler'),
      tcp(KUBELET_PORT, KUBELET_PORT, 'sg/masters', 'kubelet'),
      udp(OVERLAY_PORT, 'sg/masters', 'overlay'),
      udp(OVERLAY_PORT, 'sg/workers', 'overlay'),
      ...(spec.masters.schedulable ? [...nodePorts('sg/lb'), ...proxyHealth('sg/lb')] : []),
    ],
    workers: [
      tcp(KUBELET_PORT, KUBELET_PORT, 'sg/masters', 'kubelet'),
      udp(OVERLAY_PORT, 'sg/masters', 'overlay'),
      udp(OVERLAY_PORT, 'sg/workers', 'overlay'),
      ...nodePorts('sg/lb'),
      ...proxyHealth('sg/lb'),
    ],
    reconciler: [],
  };
}
