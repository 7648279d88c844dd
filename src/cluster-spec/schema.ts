/**
 * The cluster spec (`cluster.yaml`, `apiVersion: tripod/v1`, `kind: Cluster`): defined once, here.
 * The JSON Schema in `schema/cluster.schema.json` and the README's spec reference are generated
 * from this file (`npm run schema`), and a test fails when either is stale.
 */
import { z } from 'zod';
import {
  hasHostBits,
  POD_CIDR_CANDIDATES,
  POD_PREFIX,
  parseCidr,
  SERVICE_CIDR_CANDIDATES,
  SERVICE_PREFIX,
} from './cidr.js';
import { FLANNEL_VERSION, kubernetesVersionProblem } from './versions.js';

export const API_VERSION = 'tripod/v1';
/** `network.cni`: the pod networks tripod installs, and `none`. */
export const CNI_CHOICES = ['flannel', 'none'] as const;
export const KIND = 'Cluster';

/** Cluster names become parts of AWS names: the longest is `<name>-svc-tg` style (32 chars max for ELBv2). */
export const CLUSTER_NAME_MAX = 20;
const clusterName = z
  .string()
  .min(1)
  .max(CLUSTER_NAME_MAX, {
    message: `must be at most ${CLUSTER_NAME_MAX} characters: load balancer and target group names (max 32) are built from it`,
  })
  .regex(/^[a-z][a-z0-9-]*[a-z0-9]$|^[a-z]$/, {
    message:
      'must start with a lowercase letter and contain only lowercase letters, digits and hyphens, not ending in a hyphen (AWS load balancer naming)',
  })
  .refine((s) => !s.includes('--'), { message: 'must not contain two hyphens in a row' })
  .meta({ description: 'Cluster name; prefixes every AWS resource and is the `tripod:cluster` tag value.' });

const region = z
  .string()
  .regex(/^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$/, { message: 'is not an AWS region name (like eu-west-1)' })
  .meta({ description: 'AWS region, e.g. `eu-west-1`.' });

const kubernetesVersion = z
  .string()
  .regex(/^1\.\d+\.\d+$/, { message: 'must be a full Kubernetes version like 1.32.4' })
  .superRefine((v, ctx) => {
    const problem = kubernetesVersionProblem(v);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  })
  .meta({ description: 'Kubernetes version installed on every node (kubeadm, kubelet, kubectl).' });

const cidr = z
  .string()
  .regex(/^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/, {
    message: 'must be an IPv4 CIDR like 10.0.0.0/16',
  })
  .refine(
    (s) => {
      const [ip, bits] = s.split('/');
      const n = Number(bits);
      return ip!.split('.').every((o) => Number(o) <= 255) && n >= 16 && n <= 24;
    },
    {
      message:
        'must be a valid IPv4 CIDR with a prefix between /16 and /24 (AWS VPC limits, room for 2 subnets per zone)',
    },
  );

const zoneName = z.string().regex(/^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d[a-z]$/, {
  message: 'is not an availability zone name (like eu-west-1a)',
});

const zoneSubnets = z.record(
  zoneName,
  z.string().regex(/^subnet-[0-9a-f]{8,17}$/, { message: 'must be a subnet id like subnet-0abc1234' }),
);

/** An IPv4 CIDR for a Kubernetes range, with prefix bounds. */
const rangeCidr = (bounds: { min: number; max: number }, why: string) =>
  z
    .string()
    .regex(/^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/, {
      message: 'must be an IPv4 CIDR like 10.244.0.0/16',
    })
    .refine((s) => parseCidr(s) !== undefined, { message: 'is not a valid IPv4 CIDR' })
    .refine((s) => !hasHostBits(s), { message: 'has bits set after the prefix: give the network address' })
    .refine(
      (s) => {
        const c = parseCidr(s);
        return !c || (c.prefix >= bounds.min && c.prefix <= bounds.max);
      },
      { message: `must have a prefix between /${bounds.min} and /${bounds.max} (${why})` },
    );
const podCidr = rangeCidr(POD_PREFIX, 'every node gets a /24 of it');
const serviceCidr = rangeCidr(SERVICE_PREFIX, 'kube-apiserver refuses a service range wider than /12');

const network = z
  .strictObject({
    zones: z.array(zoneName).min(1, { message: 'needs at least one zone' }).meta({
      description:
        'Availability zones to spread masters and workers over. Use 3 or more to survive a zone loss.',
    }),
    cidr: cidr.optional().meta({
      description:
        'Create a new VPC with this CIDR (a public and a private subnet per zone, a NAT gateway per zone).',
    }),
    vpcId: z
      .string()
      .regex(/^vpc-[0-9a-f]{8,17}$/, { message: 'must be a VPC id like vpc-0abc1234' })
      .optional()
      .meta({
        description:
          'Use this existing VPC instead of creating one (give `subnets`, and `publicSubnets` for internet-facing load balancers).',
      }),
    subnets: zoneSubnets.optional().meta({
      description:
        'With `vpcId`: one existing private subnet per zone, as `zone: subnet-id`: the nodes, the reconciler function and internal load balancers go here (they reach the internet through your NAT).',
    }),
    publicSubnets: zoneSubnets.optional().meta({
      description:
        'With `vpcId`: one existing public subnet per zone (routed to an internet gateway), as `zone: subnet-id`, for the internet-facing load balancers. Required when `apiEndpoint` or `serviceEndpoint` is internet-facing.',
    }),
    pods: podCidr.optional().meta({
      description: `Pod IP range (kubeadm \`podSubnet\`, a /24 per node). Default: the first of ${POD_CIDR_CANDIDATES.join(', ')} that overlaps neither \`cidr\` nor \`services\`; with \`vpcId\` the plan refuses a range inside the VPC.`,
    }),
    services: serviceCidr.optional().meta({
      description: `Service IP range (kubeadm \`serviceSubnet\`). Default: the first of ${SERVICE_CIDR_CANDIDATES.join(', ')} that overlaps neither \`cidr\` nor \`pods\`; with \`vpcId\` the plan refuses a range inside the VPC.`,
    }),
    cni: z
      .enum(CNI_CHOICES, { message: `must be one of ${CNI_CHOICES.join(', ')}` })
      .default('flannel')
      .meta({
        description: `Pod network the seed master installs once the API serves: \`flannel\` (Flannel ${FLANNEL_VERSION} in VXLAN mode over UDP 8472, its manifest pinned by SHA-256, with \`pods\` as its network), or \`none\` to bring your own (nodes stay NotReady until you install one; open the ports it needs yourself).`,
      }),
  })
  .meta({
    description:
      'Either `cidr` (tripod creates the network) or `vpcId` + `subnets` (+ `publicSubnets`) (bring your own).',
  });

const instanceType = z
  .string()
  .regex(/^[a-z][a-z0-9-]*\.[a-z0-9]+$/, { message: 'is not an EC2 instance type (like m6i.large)' });

const image = z.string().regex(/^(ami-[0-9a-f]{8,17}|resolve:ssm:\/.+)$/, {
  message: 'must be an AMI id (ami-...) or an SSM parameter reference (resolve:ssm:/path)',
});

export const DEFAULT_IMAGE =
  'resolve:ssm:/aws/service/canonical/ubuntu/server/24.04/stable/current/amd64/hvm/ebs-gp3/ami-id';

/** `masters.warmPool.state`: Auto Scaling's PoolState values. */
export const WARM_POOL_STATES = ['Stopped', 'Running', 'Hibernated'] as const;
/** Root volume price tripod's cost figures use: gp3, USD per GiB-month (us-east-1, 2025). */
export const GP3_USD_PER_GIB_MONTH = 0.08;

const warmPool = z
  .strictObject({
    size: z
      .number({ message: 'must be a whole number of instances, 0 for no pool' })
      .int({ message: 'must be a whole number of instances, 0 for no pool' })
      .min(0, { message: 'must be 0 (no pool) or more' })
      .max(10, { message: 'must be at most 10 prepared masters' })
      .default(1)
      .meta({
        description:
          'Masters kept prepared in the pool (its MinSize): booted once, packages and images installed, then kept in `state`, not etcd members. A replacement starts from one in the zone it needs, if there is one (our assumption: AWS does not document which pool instance it takes); one per zone covers every zone. `0`: no warm pool (tripod deletes one it made).',
      }),
    state: z
      .enum(WARM_POOL_STATES, {
        message: 'must be Stopped or Running (AWS PoolState; Hibernated is refused)',
      })
      .default('Stopped')
      .superRefine((s, ctx) => {
        if (s === 'Hibernated')
          ctx.addIssue({
            code: 'custom',
            message:
              'Hibernated is refused: AWS hibernates only instances launched with hibernation configured, from a supported instance family and AMI, with an encrypted root volume larger than their memory; tripod configures none of that. Use Stopped (pays only the root volume) or Running',
          });
      })
      .meta({
        description:
          "The pool instances' state: `Stopped` pays only the root volume (gp3); `Running` pays the instance as well and saves its start and OS boot (about 40 s of a replacement: bench/README.md). `Hibernated` is refused (tripod does not configure hibernation).",
      }),
    reuseOnScaleIn: z
      .boolean()
      .default(false)
      .superRefine((reuse, ctx) => {
        if (reuse)
          ctx.addIssue({
            code: 'custom',
            message:
              "must be false: a master scaled in to the pool would wait on its terminating hook in Warmed:Pending:Wait and stop with its etcd member still voting, and come back later with an old member's data; tripod always terminates scaled-in masters",
          });
      })
      .meta({
        description:
          'Must be `false` (the default; tripod sets it on the pool and puts it back if changed): a master the group scales in is terminated, its etcd member removed first. Returned to the pool it would stop with its member still voting.',
      }),
  })
  .meta({
    description: `An Auto Scaling warm pool for the master group: a replacement master starts from a prepared instance, shortening the time the cluster runs one member short. Default: 1 instance, Stopped, which costs only its root volume: \`masters.volumeSize\` GiB x $${GP3_USD_PER_GIB_MONTH}/GiB-month of gp3, $4 a month at the default 50 GiB (a running m6i.large is about $70). Set \`size: 0\` to go without.`,
  });
/** `masters.warmPool` as parsed, with defaults. */
export type WarmPoolSpec = z.output<typeof warmPool>;

const masters = z
  .strictObject({
    instanceType: instanceType
      .default('m6i.large')
      .meta({ description: 'EC2 instance type of the masters.' }),
    image: image
      .default(DEFAULT_IMAGE)
      .meta({ description: 'AMI id or `resolve:ssm:` parameter (Ubuntu 24.04 by default).' }),
    count: z
      .union([z.literal('auto'), z.number().int().positive()], {
        message: 'must be "auto" or an odd whole number',
      })
      .default('auto')
      .meta({
        description:
          '`auto`: one per zone, plus one when the zone count is even, at least 3. Or an explicit odd number.',
      }),
    schedulable: z.boolean().default(false).meta({ description: 'Let ordinary pods run on the masters.' }),
    volumeSize: z
      .number()
      .int()
      .min(20)
      .max(16384)
      .default(50)
      .meta({ description: 'Root volume size in GiB.' }),
    warmPool: warmPool.prefault({}),
  })
  .meta({
    description: 'The control plane: each master runs an etcd member and the Kubernetes control plane.',
  });

const workers = z
  .strictObject({
    instanceType: instanceType
      .default('m6i.large')
      .meta({ description: 'EC2 instance type of the workers.' }),
    image: image.default(DEFAULT_IMAGE).meta({ description: 'AMI id or `resolve:ssm:` parameter.' }),
    min: z
      .number()
      .int()
      .min(0)
      .max(1000)
      .default(3)
      .meta({ description: 'Minimum size of the worker group.' }),
    max: z
      .number()
      .int()
      .min(0)
      .max(1000)
      .default(6)
      .meta({ description: 'Maximum size of the worker group.' }),
    desired: z
      .number()
      .int()
      .min(0)
      .max(1000)
      .optional()
      .meta({ description: 'Desired size (defaults to `min`).' }),
    volumeSize: z
      .number()
      .int()
      .min(20)
      .max(16384)
      .default(100)
      .meta({ description: 'Root volume size in GiB.' }),
  })
  .meta({ description: 'The worker group, spread over all zones.' });

const hostedZoneId = z
  .string()
  .regex(/^Z[A-Z0-9]{1,31}$/, { message: 'must be a Route 53 hosted zone id like Z1234ABCD' });
const dnsName = z.string().regex(/^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/, {
  message: 'is not a DNS name',
});

/** At most this many `apiEndpoint.allowedCidrs`: the load balancers' group holds them and the service listeners (60 inbound rules per group). */
export const ALLOWED_CIDRS_MAX = 40;

/** A source range for a security group rule: any IPv4 prefix, given as its network address. */
const allowedCidr = z.string().superRefine((s, ctx) => {
  const problem = !/^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.test(s)
    ? 'must be an IPv4 CIDR like 203.0.113.0/24 (a single address is /32)'
    : !parseCidr(s)
      ? 'is not a valid IPv4 CIDR (octets up to 255, prefix up to /32)'
      : hasHostBits(s)
        ? 'has bits set after the prefix: give the network address'
        : undefined;
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

/** The load balancers' schemes when the spec gives none. */
export const DEFAULT_SCHEMES = { apiEndpoint: 'internal', serviceEndpoint: 'internet-facing' } as const;

const apiEndpoint = z
  .strictObject({
    scheme: z
      .enum(['internet-facing', 'internal'])
      .default(DEFAULT_SCHEMES.apiEndpoint)
      .meta({ description: 'Scheme of the API network load balancer.' }),
    dnsName: dnsName.optional().meta({ description: 'DNS name for the API (an alias record is created).' }),
    hostedZoneId: hostedZoneId.optional().meta({ description: 'Route 53 hosted zone for `dnsName`.' }),
    allowedCidrs: z
      .array(allowedCidr)
      .min(1, { message: 'needs at least one CIDR (leave the field out for the default)' })
      .max(ALLOWED_CIDRS_MAX, {
        message: `holds at most ${ALLOWED_CIDRS_MAX} CIDRs (a security group has at most 60 inbound rules, shared with the service listeners)`,
      })
      .superRefine((list, ctx) => {
        list.forEach((c, i) => {
          if (list.indexOf(c) !== i)
            ctx.addIssue({
              code: 'custom',
              path: [i],
              message: `repeats ${c} (AWS refuses a duplicate rule)`,
            });
        });
      })
      .optional()
      .meta({
        description:
          "IPv4 CIDRs allowed to reach the API (TCP 6443) through its load balancer. Default: the VPC's CIDR for an `internal` endpoint; for an `internet-facing` one, `0.0.0.0/0`, and `plan` warns that the API is open to the internet. The nodes always reach the API: an internal endpoint also admits the workers' security group, an internet-facing one the NAT gateways' addresses tripod made (with `vpcId`, add your NAT's public addresses here).",
      }),
  })
  .meta({
    description: 'The Kubernetes API endpoint: a network load balancer on TCP 6443 in front of the masters.',
  });

const servicePort = z.strictObject({
  port: z
    .number()
    .int()
    .min(1)
    .max(65535)
    .meta({ description: 'Listener port on the service load balancer.' }),
  nodePort: z
    .number()
    .int()
    .min(30000)
    .max(32767)
    .meta({ description: 'NodePort on the workers the traffic goes to (30000-32767).' }),
  protocol: z.enum(['TCP', 'UDP', 'TCP_UDP']).default('TCP').meta({ description: 'Listener protocol.' }),
});

const serviceEndpoint = z
  .strictObject({
    scheme: z
      .enum(['internet-facing', 'internal'])
      .default(DEFAULT_SCHEMES.serviceEndpoint)
      .meta({ description: 'Scheme of the service network load balancer.' }),
    ports: z
      .array(servicePort)
      .default([
        { port: 80, nodePort: 30080, protocol: 'TCP' },
        { port: 443, nodePort: 30443, protocol: 'TCP' },
      ])
      .meta({ description: 'Listeners of the service load balancer.' }),
    dnsName: dnsName
      .optional()
      .meta({ description: 'DNS name for the services (an alias record is created).' }),
    hostedZoneId: hostedZoneId.optional().meta({ description: 'Route 53 hosted zone for `dnsName`.' }),
  })
  .meta({ description: 'The service load balancer in front of the workers.' });

const etcd = z
  .strictObject({
    backupIntervalMinutes: z
      .number()
      .int()
      .min(5)
      .max(1440)
      .default(15)
      .meta({ description: 'Minutes between snapshots to S3.' }),
    backupRetentionDays: z
      .number()
      .int()
      .min(1)
      .max(3650)
      .default(30)
      .meta({ description: 'Days daily snapshots are kept.' }),
  })
  .meta({ description: 'etcd backups and disaster recovery.' });

const reconciler = z
  .strictObject({
    memberUnhealthySeconds: z
      .number()
      .int()
      .min(30)
      .max(3600)
      .default(120)
      .meta({ description: 'How long an etcd member must stay unhealthy before its master is replaced.' }),
    lifecycleHeartbeatSeconds: z
      .number()
      .int()
      .min(30)
      .max(7200)
      .default(600)
      .meta({ description: 'Heartbeat timeout of the master lifecycle hooks.' }),
    functionArn: z
      .string()
      .regex(/^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9-_]+$/, {
        message: 'is not a Lambda function ARN',
      })
      .optional()
      .meta({ description: 'Use this reconciler function instead of the one tripod deploys.' }),
  })
  .meta({ description: 'The healing loop.' });

const upgrade = z
  .strictObject({
    workerMinHealthyPercentage: z
      .number()
      .int()
      .min(0)
      .max(100)
      .default(90)
      .meta({ description: 'Share of workers that stays in service while workers are replaced.' }),
  })
  .meta({ description: 'Rolling upgrades.' });

/**
 * AWS's tag character set, the one every service accepts: letters, digits, spaces and `_ . : / = + - @`
 * (AWS's pattern `[\p{L}\p{Z}\p{N}_.:/=+\-@]`, here without the line and paragraph separators of
 * \p{Z}). A tag value is printed in logs, the job summary and the pull-request comment: this keeps
 * newlines, backticks, `<`, `|`, `%` out of them.
 */
export const AWS_TAG_CHARACTERS = /^[\p{L}\p{Zs}\p{N}_.:/=+\-@]*$/u;

/** Why a tag key or value cannot be used, or undefined. */
export function tagTextProblem(text: string, what: 'key' | 'value'): string | undefined {
  const bad = [...text].find((c) => !AWS_TAG_CHARACTERS.test(c));
  if (bad !== undefined) {
    const code = bad.codePointAt(0)!;
    const shown = code < 0x7f ? JSON.stringify(bad) : `U+${code.toString(16).toUpperCase().padStart(4, '0')}`;
    return `tag ${what}s may hold only letters, digits, spaces and _ . : / = + - @ (AWS's tag characters), not ${shown}`;
  }
  // GitHub reads a log line that starts with `::` as a workflow command.
  if (/^\s*::/.test(text)) return `a tag ${what} must not start with "::" (a GitHub workflow command)`;
  return undefined;
}

const tagText = (what: 'key' | 'value') =>
  z.string().superRefine((s, ctx) => {
    const problem = tagTextProblem(s, what);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });

const tags = z
  .record(
    tagText('key')
      .min(1)
      .max(128)
      .refine((k) => !/^(aws|tripod):/i.test(k), {
        message: 'tag keys starting with aws: or tripod: are reserved',
      }),
    tagText('value').max(256),
  )
  .default({})
  .meta({
    description:
      "Tags added to every resource tripod creates. Keys 1-128, values up to 256 characters of AWS's tag character set: letters, digits, spaces and `_ . : / = + - @`; keys may not start with `aws:` or `tripod:`.",
  });

export const clusterSpecSchema = z
  .strictObject({
    apiVersion: z
      .literal(API_VERSION, { message: `must be ${API_VERSION}` })
      .meta({ description: 'Spec version: `tripod/v1`.' }),
    kind: z.literal(KIND, { message: `must be ${KIND}` }).meta({ description: 'Always `Cluster`.' }),
    name: clusterName,
    region,
    kubernetesVersion,
    network,
    masters: masters.prefault({}),
    workers: workers.prefault({}),
    apiEndpoint: apiEndpoint.prefault({}),
    serviceEndpoint: serviceEndpoint.prefault({}),
    etcd: etcd.prefault({}),
    reconciler: reconciler.prefault({}),
    upgrade: upgrade.prefault({}),
    tags,
  })
  .meta({ title: 'tripod cluster spec', description: 'A highly available Kubernetes cluster on AWS.' });

export type ClusterSpecInput = z.input<typeof clusterSpecSchema>;
/** A spec as parsed, with defaults filled (cross-field rules checked by `loadSpec`). */
export type ClusterSpec = z.output<typeof clusterSpecSchema>;
