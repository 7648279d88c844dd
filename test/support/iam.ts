/**
 * The IAM contract: every AWS call tripod makes in the tests, evaluated against the roles of
 * infra/tripod-setup.yaml by a real IAM policy evaluator (@cloud-copilot/iam-simulate).
 *
 *  - `loadTemplate` parses the template (CloudFormation short-form intrinsics as data) and
 *    `resolveRoles` resolves the intrinsics it uses (Ref, Sub, GetAtt .Arn, If/Equals, Join) with the
 *    template's default parameters, a fixed account and region, into each role's identity policies.
 *  - `IAM_MAP` says, for exactly the SDK operations tripod sends, which IAM actions on which resource
 *    ARNs with which context keys AWS checks, including what it checks implicitly (tags in GetFunction,
 *    service-linked roles on first use, iam:PassRole, tagging on create). The evaluation is the
 *    library's; only this mapping is ours. An operation missing from it fails the contract.
 *  - `IamRecorder` records calls: `around` hooks the AWS client factory (moto runs), `simPorts` wraps
 *    the simulator's heal ports (the reconciler's calls there), `cliCalls` reads the log of the `aws`
 *    stand-in of the bats tests (the node scripts). Tags of existing resources are read before the
 *    call (what IAM sees as aws:ResourceTag) from the same world the call goes to.
 */
import { readFileSync } from 'node:fs';
import {
  DescribeAutoScalingGroupsCommand,
  DescribeAutoScalingInstancesCommand,
} from '@aws-sdk/client-auto-scaling';
import {
  DescribeLaunchTemplatesCommand,
  DescribeRouteTablesCommand,
  DescribeTagsCommand,
} from '@aws-sdk/client-ec2';
import { DescribeTagsCommand as DescribeElbTagsCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import {
  type RequestAnalysis,
  runSimulation,
  runUnsafeSimulation,
  type Simulation,
  type StatementExplain,
} from '@cloud-copilot/iam-simulate';
import { parse, type Tags as YamlTags } from 'yaml';
import type { AwsCall, AwsCallHook, AwsClients } from '../../src/adapters/aws/clients.js';
import type { HealPorts } from '../../src/heal/ports.js';

export const TEMPLATE = 'infra/tripod-setup.yaml';
/** The per-cluster stack: the cluster's node and reconciler roles and its KMS key. */
export const CLUSTER_TEMPLATE = 'infra/tripod-cluster.yaml';
export const ACCOUNT = '123456789012';
const PARTITION = 'aws';

// ---------------------------------------------------------------------------------------------
// The template and its roles

/** Parsed CloudFormation YAML: untyped by nature. */
// biome-ignore lint/suspicious/noExplicitAny: a template is arbitrary YAML
export type Cfn = any;

/** CloudFormation's short-form intrinsic functions, so the template parses as data (`{ 'Fn::Sub': ... }`). */
export const cfnTags: YamlTags = [
  'Ref',
  'Sub',
  'GetAtt',
  'Equals',
  'If',
  'Not',
  'Join',
  'Select',
  'Split',
].flatMap((fn) => {
  const key = fn === 'Ref' ? 'Ref' : `Fn::${fn}`;
  return (['scalar', 'seq', 'map'] as const).map((collection) => ({
    tag: `!${fn}`,
    collection: collection === 'scalar' ? undefined : collection,
    resolve: (value: unknown) => ({
      [key]:
        typeof value === 'object' && value && 'toJSON' in value
          ? (value as { toJSON(): unknown }).toJSON()
          : fn === 'GetAtt' && typeof value === 'string'
            ? value.split('.')
            : value,
    }),
  })) as YamlTags;
});

export function loadTemplate(path = TEMPLATE): Cfn {
  return parse(readFileSync(path, 'utf8'), { customTags: cfnTags });
}

/**
 * The account stack and the cluster stack. `TRIPOD_IAM_TEMPLATE` evaluates other templates (e.g. an
 * older one; comma-separated) against the same calls.
 */
export function loadTemplates(): Cfn[] {
  const paths = process.env.TRIPOD_IAM_TEMPLATE?.split(',') ?? [TEMPLATE, CLUSTER_TEMPLATE];
  return paths.map((p) => loadTemplate(p));
}

/** Parameters without a default (the administrator gives them when deploying). */
const REQUIRED_PARAMETERS: Record<string, string> = {
  GitHubRepository: 'example/infra',
  GitHubRef: 'refs/heads/main',
};

export interface Role {
  /** The logical id in the template (ReconcilerRole). */
  logicalId: string;
  arn: string;
  /** Inline policies, intrinsics resolved. */
  policies: Array<{ name: string; policy: { Version: string; Statement: Cfn[] } }>;
}

/** Our short role names: the logical id without `Role`, lower case (reconciler, node, worker, deploy). */
export type RoleName = string;

export interface ResolvedTemplate {
  region: string;
  roles: Record<RoleName, Role>;
  /** Instance profile name -> the ARN of its role (for iam:PassRole). */
  profiles: Record<string, string>;
  /** The cluster's KMS key policy (the cluster stack's AWS::KMS::Key), if a template has one. */
  keyPolicy?: Cfn;
}

/** Removed by Fn::If's AWS::NoValue. */
const NO_VALUE = Symbol('AWS::NoValue');

/**
 * Resolves the intrinsics the templates use (several templates: their roles together, e.g. the
 * account stack and one cluster's stack); anything else is an error naming where it is. `given`
 * are parameter values (ClusterName), over the defaults.
 */
export function resolveRoles(
  templates: Cfn | Cfn[],
  region: string,
  given: Record<string, string> = {},
): ResolvedTemplate {
  const all = [templates].flat();
  if (all.length > 1) {
    const parts = all.map((t) => resolveRoles(t, region, given));
    return {
      region,
      roles: Object.assign({}, ...parts.map((p) => p.roles)),
      profiles: Object.assign({}, ...parts.map((p) => p.profiles)),
      keyPolicy: parts.find((p) => p.keyPolicy)?.keyPolicy,
    };
  }
  const template = all[0];
  const params: Record<string, string | string[]> = { ...REQUIRED_PARAMETERS, ClusterName: 't1' };
  for (const [k, p] of Object.entries<Cfn>(template.Parameters ?? {})) {
    if (p.Default !== undefined)
      params[k] = p.Type === 'CommaDelimitedList' ? String(p.Default).split(',') : String(p.Default);
  }
  Object.assign(params, given);
  const pseudo: Record<string, string> = {
    'AWS::AccountId': ACCOUNT,
    'AWS::Partition': PARTITION,
    'AWS::Region': region,
    'AWS::URLSuffix': 'amazonaws.com',
  };
  const conditions: Record<string, boolean> = {};
  const resources = template.Resources as Record<string, Cfn>;
  const physical = (id: string, where: string): string => {
    const r = resources[id];
    if (!r) throw new Error(`${TEMPLATE}: ${where}: no resource ${id}`);
    const name = (prop: string) => String(resolve(r.Properties[prop], `${id}.${prop}`));
    if (r.Type === 'AWS::IAM::Role') return name('RoleName');
    if (r.Type === 'AWS::IAM::InstanceProfile') return name('InstanceProfileName');
    throw new Error(`${TEMPLATE}: ${where}: Ref/GetAtt of a ${r.Type} is not modelled`);
  };
  const arnOf = (id: string, where: string): string => {
    const r = resources[id];
    const kind = r?.Type === 'AWS::IAM::InstanceProfile' ? 'instance-profile' : 'role';
    return `arn:${PARTITION}:iam::${ACCOUNT}:${kind}/${physical(id, where)}`;
  };
  const resolve = (v: Cfn, where: string): Cfn => {
    if (Array.isArray(v)) return v.map((x, i) => resolve(x, `${where}[${i}]`)).filter((x) => x !== NO_VALUE);
    if (v === null || typeof v !== 'object') return v;
    const keys = Object.keys(v);
    if (keys.length === 1 && (keys[0] === 'Ref' || keys[0]!.startsWith('Fn::'))) {
      const [fn, arg] = [keys[0]!, v[keys[0]!]];
      switch (fn) {
        case 'Ref':
          if (arg === 'AWS::NoValue') return NO_VALUE;
          if (arg in pseudo) return pseudo[arg];
          if (arg in params) return params[arg];
          return physical(arg, where);
        case 'Fn::Sub': {
          const [text, vars] = Array.isArray(arg) ? [arg[0], resolve(arg[1], where)] : [arg, {}];
          return String(text).replace(/\$\{([^}!]+)\}/g, (_m, name: string) => {
            if (name in vars) return vars[name];
            if (name in pseudo) return pseudo[name]!;
            if (name in params) return String(params[name]);
            const [id, att] = name.split('.');
            if (att === 'Arn') return arnOf(id!, where);
            throw new Error(`${TEMPLATE}: ${where}: \${${name}} names nothing`);
          });
        }
        case 'Fn::GetAtt': {
          const [id, att] = arg as [string, string];
          if (att !== 'Arn') throw new Error(`${TEMPLATE}: ${where}: GetAtt ${id}.${att} is not modelled`);
          return arnOf(id, where);
        }
        case 'Fn::Equals': {
          const [a, b] = resolve(arg, where);
          return a === b;
        }
        case 'Fn::Not':
          return !resolve(arg[0], where);
        case 'Fn::If': {
          const [cond, yes, no] = arg;
          if (!(cond in conditions)) throw new Error(`${TEMPLATE}: ${where}: no condition ${cond}`);
          return resolve(conditions[cond] ? yes : no, where);
        }
        case 'Fn::Join': {
          const [sep, list] = arg;
          return (resolve(list, where) as string[]).join(sep);
        }
        case 'Fn::Split': {
          const [sep, text] = arg;
          return String(resolve(text, where)).split(sep);
        }
        default:
          throw new Error(`${TEMPLATE}: ${where}: ${fn} is not modelled by test/support/iam.ts`);
      }
    }
    return Object.fromEntries(
      keys.map((k) => [k, resolve(v[k], `${where}.${k}`)]).filter(([, x]) => x !== NO_VALUE),
    );
  };
  for (const [k, c] of Object.entries<Cfn>(template.Conditions ?? {}))
    conditions[k] = resolve(c, `Conditions.${k}`);

  const roles: Record<RoleName, Role> = {};
  const profiles: Record<string, string> = {};
  let keyPolicy: Cfn;
  for (const [id, r] of Object.entries<Cfn>(resources)) {
    if (r.Condition && !conditions[r.Condition]) continue;
    if (r.Type === 'AWS::KMS::Key') keyPolicy = resolve(r.Properties.KeyPolicy, `${id}.KeyPolicy`);
    if (r.Type === 'AWS::IAM::Role') {
      roles[id.replace(/Role$/, '').toLowerCase()] = {
        logicalId: id,
        arn: arnOf(id, id),
        policies: (r.Properties.Policies ?? []).map((p: Cfn, i: number) => ({
          name: String(resolve(p.PolicyName, `${id}.Policies[${i}].PolicyName`)),
          policy: resolve(p.PolicyDocument, `${id}.Policies[${i}].PolicyDocument`),
        })),
      };
    }
    if (r.Type === 'AWS::IAM::InstanceProfile') {
      const role = resolve(r.Properties.Roles[0], `${id}.Roles[0]`) as string;
      profiles[physical(id, id)] = `arn:${PARTITION}:iam::${ACCOUNT}:role/${role}`;
    }
  }
  return { region, roles, profiles, ...(keyPolicy ? { keyPolicy } : {}) };
}

// ---------------------------------------------------------------------------------------------
// SDK operation -> what IAM checks

/** One authorization AWS makes for a call. */
export interface Check {
  action: string;
  resource: string;
  context?: Record<string, string | string[]>;
  /** The resource exists before the call: its tags are aws:ResourceTag (read by the recorder). */
  existing?: boolean;
}

/** What a rule sees: the call's input, its output (after), the region and the resolved template. */
export interface Facts {
  // biome-ignore lint/suspicious/noExplicitAny: SDK inputs and outputs of many shapes
  input: any;
  // biome-ignore lint/suspicious/noExplicitAny: see input
  output: any;
  region: string;
  profiles: Record<string, string>;
  /** Looks things up in the world the call goes to (ids the input does not carry). */
  world: World;
}

/**
 * `before` runs before the call (resources that exist: their tags are read then), `after` once it
 * returned (resources it created: their ids are in the output). Either may be left out.
 */
export interface Rule {
  before?: (f: Facts) => Check[] | Promise<Check[]>;
  after?: (f: Facts) => Check[] | Promise<Check[]>;
}

/** The world calls go to: resource tags and a few look-ups by id. */
export interface World {
  tags(arn: string): Promise<Record<string, string>>;
  groupOfInstance(instanceId: string): Promise<string | undefined>;
  routeTableOfAssociation(associationId: string): Promise<string | undefined>;
  launchTemplateId(name: string): Promise<string | undefined>;
}

type Tagged = ReadonlyArray<{ Key?: string; Value?: string }> | undefined;

/** aws:RequestTag/<k> and aws:TagKeys of the tags a request sets. */
function requestTags(tags: Tagged | Record<string, string>): Record<string, string | string[]> {
  const list = Array.isArray(tags)
    ? (tags as Tagged)!.map((t) => [t.Key ?? '', t.Value ?? ''] as const)
    : Object.entries((tags ?? {}) as Record<string, string>);
  if (list.length === 0) return {};
  return {
    ...Object.fromEntries(list.map(([k, v]) => [`aws:RequestTag/${k}`, v])),
    'aws:TagKeys': list.map(([k]) => k),
  };
}

const arn = {
  ec2: (f: Facts, type: string, id: string) => `arn:${PARTITION}:ec2:${f.region}:${ACCOUNT}:${type}/${id}`,
  /** Group ARNs carry a UUID IAM never matches on; the name is what policies scope. */
  asg: (f: Facts, name: string) =>
    `arn:${PARTITION}:autoscaling:${f.region}:${ACCOUNT}:autoScalingGroup:00000000-0000-4000-8000-000000000000:autoScalingGroupName/${name}`,
  ssm: (f: Facts, name: string) =>
    name.startsWith('/aws/')
      ? `arn:${PARTITION}:ssm:${f.region}::parameter${name}`
      : `arn:${PARTITION}:ssm:${f.region}:${ACCOUNT}:parameter${name.startsWith('/') ? '' : '/'}${name.replace(/\/$/, '')}`,
  fn: (f: Facts, nameOrArn: string) =>
    nameOrArn.startsWith('arn:')
      ? nameOrArn.replace(/:(\$LATEST|\d+)$/, '')
      : `arn:${PARTITION}:lambda:${f.region}:${ACCOUNT}:function:${nameOrArn}`,
  rule: (f: Facts, name: string) => `arn:${PARTITION}:events:${f.region}:${ACCOUNT}:rule/${name}`,
  bus: (f: Facts, name = 'default') => `arn:${PARTITION}:events:${f.region}:${ACCOUNT}:event-bus/${name}`,
  zone: (id: string) => `arn:${PARTITION}:route53:::hostedzone/${id.replace(/^\/?hostedzone\//, '')}`,
  change: (id: string) => `arn:${PARTITION}:route53:::change/${id.replace(/^\/?change\//, '')}`,
  bucket: (name: string) => `arn:${PARTITION}:s3:::${name}`,
  object: (bucket: string, key: string) => `arn:${PARTITION}:s3:::${bucket}/${key}`,
  kmsKey: (f: Facts) =>
    `arn:${PARTITION}:kms:${f.region}:${ACCOUNT}:key/00000000-0000-4000-8000-00000000b0c5`,
  slr: (service: string, role: string) =>
    `arn:${PARTITION}:iam::${ACCOUNT}:role/aws-service-role/${service}/${role}`,
};

/** EC2 resource type of an id, by its prefix. */
const EC2_TYPES: Record<string, string> = {
  vpc: 'vpc',
  subnet: 'subnet',
  igw: 'internet-gateway',
  nat: 'natgateway',
  eipalloc: 'elastic-ip',
  rtb: 'route-table',
  sg: 'security-group',
  lt: 'launch-template',
  i: 'instance',
};
const ec2Arn = (f: Facts, id: string) => {
  const type = EC2_TYPES[id.split('-')[0]!];
  if (!type) throw new Error(`add the EC2 id prefix of ${id} to EC2_TYPES in test/support/iam.ts`);
  return arn.ec2(f, type, id);
};

const anywhere = (...actions: string[]): Rule => ({
  before: () => actions.map((action) => ({ action, resource: '*' })),
});
const on = (
  action: string,
  resource: (f: Facts) => string | string[] | Promise<string | string[]>,
): Rule => ({
  before: async (f) => [await resource(f)].flat().map((r) => ({ action, resource: r, existing: true })),
});
/** An EC2 create: the new resource (id in the output) with the request's tags, and CreateTags on create. */
const ec2Create = (action: string, type: string, id: (out: Facts['output']) => string | undefined): Rule => ({
  after: (f) => {
    const tags = (f.input.TagSpecifications ?? []).flatMap((s: { Tags?: Tagged }) => s.Tags ?? []);
    const resource = arn.ec2(f, type, id(f.output) ?? '*');
    const context = requestTags(tags);
    const checks: Check[] = [{ action, resource, context }];
    if (tags.length > 0)
      checks.push({
        action: 'ec2:CreateTags',
        resource,
        context: { ...context, 'ec2:CreateAction': action.split(':')[1]! },
      });
    return checks;
  },
});
/** iam:PassRole of an instance profile's role to EC2. */
const passProfile = (f: Facts, profile: { Arn?: string; Name?: string } | undefined): Check[] => {
  if (!profile) return [];
  const name = profile.Name ?? profile.Arn?.split('/').pop() ?? '';
  const role = f.profiles[name] ?? `arn:${PARTITION}:iam::${ACCOUNT}:role/${name}`;
  return [
    { action: 'iam:PassRole', resource: role, context: { 'iam:PassedToService': 'ec2.amazonaws.com' } },
  ];
};
const launchTemplateArn = async (
  f: Facts,
  spec: { LaunchTemplateId?: string; LaunchTemplateName?: string },
) => {
  const id = spec.LaunchTemplateId ?? (await f.world.launchTemplateId(spec.LaunchTemplateName ?? ''));
  return arn.ec2(f, 'launch-template', id ?? spec.LaunchTemplateName ?? '?');
};
const serviceLinkedRole = (service: string, role: string): Check => ({
  action: 'iam:CreateServiceLinkedRole',
  resource: arn.slr(service, role),
  context: { 'iam:AWSServiceName': service },
});
const asgRule = (action: string): Rule => on(action, (f) => arn.asg(f, f.input.AutoScalingGroupName));
const asgOfInstance = (action: string): Rule =>
  on(action, async (f) => arn.asg(f, (await f.world.groupOfInstance(f.input.InstanceId)) ?? '?'));
/**
 * moto names every load balancer `app/`; tripod creates only network load balancers (elbv2.ts
 * `Type: 'network'`), whose ARNs in AWS read `loadbalancer/net/` and `listener/net/`.
 */
export const elbArn = (a: string) => a.replace(/:(loadbalancer|listener)\/app\//, ':$1/net/');
const elb = (action: string, field: string): Rule => on(action, (f) => elbArn(f.input[field]));
const ssmParam = (action: string, field = 'Name'): Rule => on(action, (f) => arn.ssm(f, f.input[field]));
const ssmParams = (action: string): Rule =>
  on(action, (f) => (f.input.Names as string[]).map((n) => arn.ssm(f, n)));
const lambdaFn = (action: string): Rule => on(action, (f) => arn.fn(f, f.input.FunctionName));
const rule = (action: string): Rule => on(action, (f) => arn.rule(f, f.input.Rule ?? f.input.Name));
const zone = (action: string): Rule => on(action, (f) => arn.zone(f.input.HostedZoneId ?? f.input.Id));
const bucket = (action: string): Rule => on(action, (f) => arn.bucket(f.input.Bucket));
/** S3 object calls on SSE-KMS buckets: the object action and the KMS calls S3 makes for the caller. */
const object = (actions: string[], kms: string[] = []): Rule => ({
  before: (f) => [
    ...actions.map((action) => ({ action, resource: arn.object(f.input.Bucket, f.input.Key ?? '*') })),
    ...kms.map((action) => ({
      action,
      resource: arn.kmsKey(f),
      context: { 'kms:ViaService': `s3.${f.region}.amazonaws.com` },
    })),
  ],
});

/**
 * The SecureStrings of the protocol (src/contract/protocol.ts): the CA material and client certificate
 * under pki/, the worker join document and the masters' join parameters. A call whose output says
 * the type (moto) is taken at its word; the node scripts' stand-in returns nothing, so by name.
 */
const SECURE_PARAMETER = /^\/tripod\/[^/]+\/(pki\/[^/]+|worker-join|join\/[^/]+)$/;
const isSecure = (_f: Facts, name: string, type: string | undefined) =>
  type ? type === 'SecureString' : SECURE_PARAMETER.test(name);
/** What SSM asks KMS for a SecureString: through SSM, the parameter's ARN as encryption context. */
const ssmKms = (f: Facts, actions: string[], name: string): Check[] =>
  actions.map((action) => ({
    action,
    resource: arn.kmsKey(f),
    context: {
      'kms:ViaService': `ssm.${f.region}.amazonaws.com`,
      'kms:EncryptionContext:PARAMETER_ARN': arn.ssm(f, name),
    },
  }));

/**
 * `<iam prefix>:<SDK operation>` -> its checks. Add a row when tripod sends a new operation; the
 * contract test fails on any operation that is not here.
 */
export const IAM_MAP: Record<string, Rule> = {
  // ---------- EC2 ----------
  ...Object.fromEntries(
    [
      'DescribeVpcs',
      'DescribeSubnets',
      'DescribeInternetGateways',
      'DescribeNatGateways',
      'DescribeAddresses',
      'DescribeRouteTables',
      'DescribeSecurityGroups',
      'DescribeSecurityGroupRules',
      'DescribeLaunchTemplates',
      'DescribeLaunchTemplateVersions',
      'DescribeInstances',
      'DescribeAvailabilityZones',
      'DescribeImages',
      'DescribeTags',
    ].map((op) => [`ec2:${op}`, anywhere(`ec2:${op}`)]),
  ),
  'ec2:CreateVpc': ec2Create('ec2:CreateVpc', 'vpc', (o) => o?.Vpc?.VpcId),
  'ec2:CreateSubnet': ec2Create('ec2:CreateSubnet', 'subnet', (o) => o?.Subnet?.SubnetId),
  'ec2:CreateInternetGateway': ec2Create(
    'ec2:CreateInternetGateway',
    'internet-gateway',
    (o) => o?.InternetGateway?.InternetGatewayId,
  ),
  'ec2:CreateNatGateway': ec2Create('ec2:CreateNatGateway', 'natgateway', (o) => o?.NatGateway?.NatGatewayId),
  'ec2:AllocateAddress': ec2Create('ec2:AllocateAddress', 'elastic-ip', (o) => o?.AllocationId),
  'ec2:CreateRouteTable': ec2Create(
    'ec2:CreateRouteTable',
    'route-table',
    (o) => o?.RouteTable?.RouteTableId,
  ),
  'ec2:CreateSecurityGroup': ec2Create('ec2:CreateSecurityGroup', 'security-group', (o) => o?.GroupId),
  'ec2:CreateLaunchTemplate': {
    after: async (f) => [
      ...(await ec2Create(
        'ec2:CreateLaunchTemplate',
        'launch-template',
        (o) => o?.LaunchTemplate?.LaunchTemplateId,
      ).after!(f)),
      ...passProfile(f, f.input.LaunchTemplateData?.IamInstanceProfile),
    ],
  },
  'ec2:CreateLaunchTemplateVersion': {
    before: async (f) => [
      {
        action: 'ec2:CreateLaunchTemplateVersion',
        resource: await launchTemplateArn(f, f.input),
        existing: true,
      },
      ...passProfile(f, f.input.LaunchTemplateData?.IamInstanceProfile),
    ],
  },
  'ec2:ModifyLaunchTemplate': on('ec2:ModifyLaunchTemplate', (f) => launchTemplateArn(f, f.input)),
  'ec2:DeleteLaunchTemplate': on('ec2:DeleteLaunchTemplate', (f) => launchTemplateArn(f, f.input)),
  'ec2:CreateTags': {
    before: (f) =>
      (f.input.Resources as string[]).map((id) => ({
        action: 'ec2:CreateTags',
        resource: ec2Arn(f, id),
        context: requestTags(f.input.Tags),
        existing: true,
      })),
  },
  'ec2:AttachInternetGateway': on('ec2:AttachInternetGateway', (f) => [
    ec2Arn(f, f.input.InternetGatewayId),
    ec2Arn(f, f.input.VpcId),
  ]),
  'ec2:DetachInternetGateway': on('ec2:DetachInternetGateway', (f) => [
    ec2Arn(f, f.input.InternetGatewayId),
    ec2Arn(f, f.input.VpcId),
  ]),
  'ec2:CreateRoute': on('ec2:CreateRoute', (f) => ec2Arn(f, f.input.RouteTableId)),
  'ec2:ReplaceRoute': on('ec2:ReplaceRoute', (f) => ec2Arn(f, f.input.RouteTableId)),
  'ec2:AssociateRouteTable': on('ec2:AssociateRouteTable', (f) => [
    ec2Arn(f, f.input.RouteTableId),
    ec2Arn(f, f.input.SubnetId),
  ]),
  'ec2:DisassociateRouteTable': on('ec2:DisassociateRouteTable', async (f) =>
    ec2Arn(f, (await f.world.routeTableOfAssociation(f.input.AssociationId)) ?? 'rtb-unknown'),
  ),
  'ec2:ModifyVpcAttribute': on('ec2:ModifyVpcAttribute', (f) => ec2Arn(f, f.input.VpcId)),
  'ec2:ModifySubnetAttribute': on('ec2:ModifySubnetAttribute', (f) => ec2Arn(f, f.input.SubnetId)),
  ...Object.fromEntries(
    [
      'AuthorizeSecurityGroupIngress',
      'AuthorizeSecurityGroupEgress',
      'RevokeSecurityGroupIngress',
      'RevokeSecurityGroupEgress',
      'DeleteSecurityGroup',
    ].map((op) => [`ec2:${op}`, on(`ec2:${op}`, (f) => ec2Arn(f, f.input.GroupId))]),
  ),
  'ec2:DeleteSubnet': on('ec2:DeleteSubnet', (f) => ec2Arn(f, f.input.SubnetId)),
  'ec2:DeleteRouteTable': on('ec2:DeleteRouteTable', (f) => ec2Arn(f, f.input.RouteTableId)),
  'ec2:DeleteInternetGateway': on('ec2:DeleteInternetGateway', (f) => ec2Arn(f, f.input.InternetGatewayId)),
  'ec2:DeleteNatGateway': on('ec2:DeleteNatGateway', (f) => ec2Arn(f, f.input.NatGatewayId)),
  'ec2:ReleaseAddress': on('ec2:ReleaseAddress', (f) => ec2Arn(f, f.input.AllocationId)),
  'ec2:DeleteVpc': on('ec2:DeleteVpc', (f) => ec2Arn(f, f.input.VpcId)),

  // ---------- Auto Scaling ----------
  ...Object.fromEntries(
    [
      'DescribeAutoScalingGroups',
      'DescribeLifecycleHooks',
      'DescribeInstanceRefreshes',
      'DescribeScalingActivities',
      'DescribeAutoScalingInstances',
      'DescribeWarmPool',
    ].map((op) => [`autoscaling:${op}`, anywhere(`autoscaling:${op}`)]),
  ),
  // The group launches from its launch template (checked as ec2:RunInstances); the first group in an
  // account creates Auto Scaling's service-linked role; tags on create need CreateOrUpdateTags.
  'autoscaling:CreateAutoScalingGroup': {
    before: (f) => {
      const resource = arn.asg(f, f.input.AutoScalingGroupName);
      const context = requestTags(f.input.Tags);
      return [
        { action: 'autoscaling:CreateAutoScalingGroup', resource, context },
        ...((f.input.Tags ?? []).length > 0
          ? [{ action: 'autoscaling:CreateOrUpdateTags', resource, context }]
          : []),
        { action: 'ec2:RunInstances', resource: '*' },
        serviceLinkedRole('autoscaling.amazonaws.com', 'AWSServiceRoleForAutoScaling'),
      ];
    },
  },
  'autoscaling:UpdateAutoScalingGroup': {
    before: (f) => [
      {
        action: 'autoscaling:UpdateAutoScalingGroup',
        resource: arn.asg(f, f.input.AutoScalingGroupName),
        existing: true,
      },
      ...(f.input.LaunchTemplate ? [{ action: 'ec2:RunInstances', resource: '*' }] : []),
    ],
  },
  ...Object.fromEntries(
    [
      'DeleteAutoScalingGroup',
      'PutLifecycleHook',
      'DeleteLifecycleHook',
      // The pool's instances are launched by Auto Scaling's service-linked role, not the caller.
      'PutWarmPool',
      'DeleteWarmPool',
      'SetDesiredCapacity',
      'StartInstanceRefresh',
      'CancelInstanceRefresh',
      'RollbackInstanceRefresh',
      'AttachLoadBalancerTargetGroups',
      'DetachLoadBalancerTargetGroups',
      'CompleteLifecycleAction',
      'RecordLifecycleActionHeartbeat',
    ].map((op) => [`autoscaling:${op}`, asgRule(`autoscaling:${op}`)]),
  ),
  'autoscaling:SetInstanceHealth': asgOfInstance('autoscaling:SetInstanceHealth'),
  // tripod restore protects the seed from scale-in (the group is the resource, its tags the condition).
  'autoscaling:SetInstanceProtection': asgRule('autoscaling:SetInstanceProtection'),
  'autoscaling:TerminateInstanceInAutoScalingGroup': asgOfInstance(
    'autoscaling:TerminateInstanceInAutoScalingGroup',
  ),
  'autoscaling:CreateOrUpdateTags': {
    before: (f) =>
      (f.input.Tags as Array<{ ResourceId: string; Key: string; Value: string }>).map((t) => ({
        action: 'autoscaling:CreateOrUpdateTags',
        resource: arn.asg(f, t.ResourceId),
        context: requestTags(f.input.Tags),
        existing: true,
      })),
  },

  // ---------- Elastic Load Balancing v2 ----------
  ...Object.fromEntries(
    [
      'DescribeLoadBalancers',
      'DescribeTargetGroups',
      'DescribeTargetGroupAttributes',
      'DescribeListeners',
      'DescribeTargetHealth',
      'DescribeTags',
      'DescribeLoadBalancerAttributes',
    ].map((op) => [`elasticloadbalancing:${op}`, anywhere(`elasticloadbalancing:${op}`)]),
  ),
  // The first load balancer in an account creates ELB's service-linked role; tags on create need AddTags.
  'elasticloadbalancing:CreateLoadBalancer': {
    after: (f) => {
      const resource = elbArn(f.output?.LoadBalancers?.[0]?.LoadBalancerArn ?? '*');
      const context = requestTags(f.input.Tags);
      return [
        { action: 'elasticloadbalancing:CreateLoadBalancer', resource, context },
        ...((f.input.Tags ?? []).length > 0
          ? [
              {
                action: 'elasticloadbalancing:AddTags',
                resource,
                context: { ...context, 'elasticloadbalancing:CreateAction': 'CreateLoadBalancer' },
              },
            ]
          : []),
        serviceLinkedRole('elasticloadbalancing.amazonaws.com', 'AWSServiceRoleForElasticLoadBalancing'),
      ];
    },
  },
  'elasticloadbalancing:CreateTargetGroup': {
    after: (f) => {
      const resource = f.output?.TargetGroups?.[0]?.TargetGroupArn ?? '*';
      const context = requestTags(f.input.Tags);
      return [
        { action: 'elasticloadbalancing:CreateTargetGroup', resource, context },
        ...((f.input.Tags ?? []).length > 0
          ? [
              {
                action: 'elasticloadbalancing:AddTags',
                resource,
                context: { ...context, 'elasticloadbalancing:CreateAction': 'CreateTargetGroup' },
              },
            ]
          : []),
      ];
    },
  },
  'elasticloadbalancing:CreateListener': {
    before: (f) => [
      {
        action: 'elasticloadbalancing:CreateListener',
        resource: elbArn(f.input.LoadBalancerArn),
        existing: true,
      },
    ],
    after: (f) =>
      (f.input.Tags ?? []).length > 0
        ? [
            {
              action: 'elasticloadbalancing:AddTags',
              resource: elbArn(f.output?.Listeners?.[0]?.ListenerArn ?? '*'),
              context: {
                ...requestTags(f.input.Tags),
                'elasticloadbalancing:CreateAction': 'CreateListener',
              },
            },
          ]
        : [],
  },
  'elasticloadbalancing:ModifyListener': elb('elasticloadbalancing:ModifyListener', 'ListenerArn'),
  'elasticloadbalancing:DeleteListener': elb('elasticloadbalancing:DeleteListener', 'ListenerArn'),
  ...Object.fromEntries(
    [
      'ModifyTargetGroup',
      'ModifyTargetGroupAttributes',
      'DeleteTargetGroup',
      'RegisterTargets',
      'DeregisterTargets',
    ].map((op) => [`elasticloadbalancing:${op}`, elb(`elasticloadbalancing:${op}`, 'TargetGroupArn')]),
  ),
  ...Object.fromEntries(
    ['ModifyLoadBalancerAttributes', 'SetSecurityGroups', 'SetSubnets', 'DeleteLoadBalancer'].map((op) => [
      `elasticloadbalancing:${op}`,
      elb(`elasticloadbalancing:${op}`, 'LoadBalancerArn'),
    ]),
  ),
  'elasticloadbalancing:AddTags': {
    before: (f) =>
      (f.input.ResourceArns as string[]).map((r) => ({
        action: 'elasticloadbalancing:AddTags',
        resource: elbArn(r),
        context: requestTags(f.input.Tags),
        existing: true,
      })),
  },

  // ---------- SSM ----------
  'ssm:GetParameter': {
    before: ssmParam('ssm:GetParameter').before,
    after: (f) =>
      f.input.WithDecryption && isSecure(f, f.input.Name, f.output?.Parameter?.Type)
        ? ssmKms(f, ['kms:Decrypt'], f.input.Name)
        : [],
  },
  'ssm:GetParameters': ssmParams('ssm:GetParameters'),
  'ssm:GetParametersByPath': ssmParam('ssm:GetParametersByPath', 'Path'),
  'ssm:DescribeParameters': anywhere('ssm:DescribeParameters'),
  'ssm:DeleteParameter': ssmParam('ssm:DeleteParameter'),
  'ssm:DeleteParameters': ssmParams('ssm:DeleteParameters'),
  'ssm:ListTagsForResource': ssmParam('ssm:ListTagsForResource', 'ResourceId'),
  'ssm:AddTagsToResource': {
    before: (f) => [
      {
        action: 'ssm:AddTagsToResource',
        resource: arn.ssm(f, f.input.ResourceId),
        context: requestTags(f.input.Tags),
      },
    ],
  },
  // Tags on PutParameter need AddTagsToResource as well; a SecureString is encrypted with the
  // cluster's key (Encrypt for a standard parameter, a data key for an advanced one: Intelligent-Tiering
  // may pick either).
  'ssm:PutParameter': {
    before: (f) => {
      const resource = arn.ssm(f, f.input.Name);
      const context = requestTags(f.input.Tags);
      return [
        { action: 'ssm:PutParameter', resource, context },
        ...((f.input.Tags ?? []).length > 0 ? [{ action: 'ssm:AddTagsToResource', resource, context }] : []),
        ...(f.input.Type === 'SecureString'
          ? ssmKms(f, ['kms:Encrypt', 'kms:GenerateDataKey'], f.input.Name)
          : []),
      ];
    },
  },

  // ---------- EventBridge ----------
  'events:ListRules': anywhere('events:ListRules'),
  'events:PutRule': {
    before: (f) => [
      { action: 'events:PutRule', resource: arn.rule(f, f.input.Name), context: requestTags(f.input.Tags) },
      ...((f.input.Tags ?? []).length > 0
        ? [
            {
              action: 'events:TagResource',
              resource: arn.rule(f, f.input.Name),
              context: requestTags(f.input.Tags),
            },
          ]
        : []),
    ],
  },
  'events:DescribeRule': rule('events:DescribeRule'),
  'events:PutTargets': rule('events:PutTargets'),
  'events:RemoveTargets': rule('events:RemoveTargets'),
  'events:DeleteRule': rule('events:DeleteRule'),
  'events:ListTargetsByRule': rule('events:ListTargetsByRule'),
  'events:ListTagsForResource': on('events:ListTagsForResource', (f) => f.input.ResourceARN),
  'events:TagResource': on('events:TagResource', (f) => f.input.ResourceARN),
  // events:source and events:detail-type are multivalued: one value per entry of the call.
  'events:PutEvents': {
    before: (f) => {
      const entries = f.input.Entries as Array<{
        Source?: string;
        DetailType?: string;
        EventBusName?: string;
      }>;
      return [...new Set(entries.map((e) => e.EventBusName))].map((bus) => ({
        action: 'events:PutEvents',
        resource: arn.bus(f, bus),
        context: {
          'events:source': entries.filter((e) => e.EventBusName === bus).map((e) => e.Source ?? ''),
          'events:detail-type': entries.filter((e) => e.EventBusName === bus).map((e) => e.DetailType ?? ''),
        },
      }));
    },
  },

  // ---------- Lambda ----------
  // GetFunction returns the function's tags only if the caller may also ListTags.
  'lambda:GetFunction': {
    before: (f) => [
      { action: 'lambda:GetFunction', resource: arn.fn(f, f.input.FunctionName) },
      { action: 'lambda:ListTags', resource: arn.fn(f, f.input.FunctionName) },
    ],
  },
  ...Object.fromEntries(
    [
      'GetFunctionConfiguration',
      'GetPolicy',
      'GetFunctionConcurrency',
      'UpdateFunctionCode',
      'PutFunctionConcurrency',
      'DeleteFunctionConcurrency',
      'AddPermission',
      'RemovePermission',
      'DeleteFunction',
      'ListTags',
      'GetFunctionEventInvokeConfig',
      'PutFunctionEventInvokeConfig',
      'UpdateFunctionEventInvokeConfig',
      'DeleteFunctionEventInvokeConfig',
    ].map((op) => [`lambda:${op}`, lambdaFn(`lambda:${op}`)]),
  ),
  'lambda:GetAccountSettings': anywhere('lambda:GetAccountSettings'),
  'lambda:Invoke': lambdaFn('lambda:InvokeFunction'),
  'lambda:TagResource': on('lambda:TagResource', (f) => arn.fn(f, f.input.Resource)),
  // The function runs as its role: iam:PassRole to Lambda; tags on create need TagResource.
  'lambda:CreateFunction': {
    before: (f) => {
      const resource = arn.fn(f, f.input.FunctionName);
      const tags = f.input.Tags ?? {};
      return [
        { action: 'lambda:CreateFunction', resource, context: requestTags(tags) },
        ...(Object.keys(tags).length > 0
          ? [{ action: 'lambda:TagResource', resource, context: requestTags(tags) }]
          : []),
        {
          action: 'iam:PassRole',
          resource: f.input.Role,
          context: { 'iam:PassedToService': 'lambda.amazonaws.com' },
        },
      ];
    },
  },
  'lambda:UpdateFunctionConfiguration': {
    before: (f) => [
      { action: 'lambda:UpdateFunctionConfiguration', resource: arn.fn(f, f.input.FunctionName) },
      ...(f.input.Role
        ? [
            {
              action: 'iam:PassRole',
              resource: f.input.Role,
              context: { 'iam:PassedToService': 'lambda.amazonaws.com' },
            },
          ]
        : []),
    ],
  },

  // ---------- Route 53 ----------
  'route53:GetHostedZone': zone('route53:GetHostedZone'),
  'route53:ListResourceRecordSets': zone('route53:ListResourceRecordSets'),
  'route53:ChangeResourceRecordSets': zone('route53:ChangeResourceRecordSets'),
  'route53:GetChange': on('route53:GetChange', (f) => arn.change(f.input.Id)),

  // ---------- S3 (buckets encrypt with SSE-KMS) ----------
  's3:CreateBucket': bucket('s3:CreateBucket'),
  's3:HeadBucket': bucket('s3:ListBucket'),
  's3:ListObjectsV2': bucket('s3:ListBucket'),
  's3:GetBucketLocation': bucket('s3:GetBucketLocation'),
  's3:GetBucketVersioning': bucket('s3:GetBucketVersioning'),
  's3:PutBucketVersioning': bucket('s3:PutBucketVersioning'),
  's3:GetBucketEncryption': bucket('s3:GetEncryptionConfiguration'),
  's3:PutBucketEncryption': bucket('s3:PutEncryptionConfiguration'),
  's3:GetPublicAccessBlock': bucket('s3:GetBucketPublicAccessBlock'),
  's3:PutPublicAccessBlock': bucket('s3:PutBucketPublicAccessBlock'),
  's3:GetBucketLifecycleConfiguration': bucket('s3:GetLifecycleConfiguration'),
  's3:PutBucketLifecycleConfiguration': bucket('s3:PutLifecycleConfiguration'),
  's3:GetBucketTagging': bucket('s3:GetBucketTagging'),
  's3:PutBucketTagging': bucket('s3:PutBucketTagging'),
  's3:GetBucketPolicy': bucket('s3:GetBucketPolicy'),
  's3:PutBucketPolicy': bucket('s3:PutBucketPolicy'),
  's3:GetObject': object(['s3:GetObject'], ['kms:Decrypt']),
  's3:HeadObject': object(['s3:GetObject'], ['kms:Decrypt']),
  's3:PutObject': object(['s3:PutObject'], ['kms:GenerateDataKey']),
  's3:CreateMultipartUpload': object(['s3:PutObject'], ['kms:GenerateDataKey', 'kms:Decrypt']),
  's3:UploadPart': object(['s3:PutObject']),
  's3:CompleteMultipartUpload': object(['s3:PutObject']),
  's3:AbortMultipartUpload': object(['s3:AbortMultipartUpload']),
  's3:DeleteObject': object(['s3:DeleteObject']),
  's3:DeleteObjects': {
    before: (f) =>
      (f.input.Delete?.Objects ?? []).map((o: { Key: string }) => ({
        action: 's3:DeleteObject',
        resource: arn.object(f.input.Bucket, o.Key),
      })),
  },
  's3:CopyObject': {
    before: (f) => {
      const [srcBucket, ...key] = decodeURIComponent(String(f.input.CopySource).replace(/^\//, '')).split(
        '/',
      );
      return [
        ...(object(['s3:PutObject'], ['kms:GenerateDataKey', 'kms:Decrypt']).before!(f) as Check[]),
        { action: 's3:GetObject', resource: arn.object(srcBucket!, key.join('/')) },
      ];
    },
  },

  // ---------- STS ----------
  // AWS checks nothing: "No permissions are required to perform this operation", even under an
  // explicit deny (the STS API reference). tripod kubeconfig names the certificate's user after it.
  'sts:GetCallerIdentity': {},
};

// ---------------------------------------------------------------------------------------------
// Recording

export interface RecordedCall {
  role: RoleName;
  region: string;
  service: string;
  operation: string;
  checks: Check[];
  /** Tags of the existing resources, read before the call. */
  resourceTags: Record<string, Record<string, string>>;
  /** Set when the call could not be mapped. */
  problem?: string;
}

const SERVICE_TAG_PREFIX: Record<string, string> = {
  ec2: 'ec2',
  autoscaling: 'autoscaling',
  elasticloadbalancing: 'elasticloadbalancing',
};

/** A world whose every named resource is the cluster's (the simulator's and the node scripts' world). */
export function clusterWorld(
  cluster: string,
  groupOf: (id: string) => string | undefined = () => undefined,
): World {
  return {
    tags: async () => ({ 'tripod:cluster': cluster }),
    groupOfInstance: async (id) => groupOf(id),
    routeTableOfAssociation: async () => undefined,
    launchTemplateId: async () => undefined,
  };
}

/** The world behind moto (or AWS): tags and ids read with clients that are not recorded. */
export function awsWorld(aws: AwsClients): World {
  return {
    async tags(resource) {
      const [, , service, , , rest] = resource.split(':');
      try {
        if (service === 'ec2') {
          const id = resource.split('/').pop()!;
          const r = await aws.ec2.send(
            new DescribeTagsCommand({ Filters: [{ Name: 'resource-id', Values: [id] }] }),
          );
          return Object.fromEntries((r.Tags ?? []).map((t) => [t.Key!, t.Value ?? '']));
        }
        if (service === 'autoscaling') {
          const name = resource.split('autoScalingGroupName/')[1]!;
          const r = await aws.autoScaling.send(
            new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [name] }),
          );
          return Object.fromEntries(
            (r.AutoScalingGroups?.[0]?.Tags ?? []).map((t) => [t.Key!, t.Value ?? '']),
          );
        }
        if (service === 'elasticloadbalancing' && rest) {
          const moto = resource.replace(/:(loadbalancer|listener)\/net\//, ':$1/app/');
          let r = await aws.elbv2
            .send(new DescribeElbTagsCommand({ ResourceArns: [resource] }))
            .catch(() => undefined);
          if (!r?.TagDescriptions?.[0]?.Tags?.length && moto !== resource)
            r = await aws.elbv2.send(new DescribeElbTagsCommand({ ResourceArns: [moto] }));
          return Object.fromEntries(
            (r?.TagDescriptions?.[0]?.Tags ?? []).map((t) => [t.Key!, t.Value ?? '']),
          );
        }
      } catch {
        return {}; // gone or not found: no tags
      }
      return {};
    },
    async groupOfInstance(id) {
      const r = await aws.autoScaling.send(new DescribeAutoScalingInstancesCommand({ InstanceIds: [id] }));
      return r.AutoScalingInstances?.[0]?.AutoScalingGroupName;
    },
    async routeTableOfAssociation(id) {
      const r = await aws.ec2.send(
        new DescribeRouteTablesCommand({
          Filters: [{ Name: 'association.route-table-association-id', Values: [id] }],
        }),
      );
      return r.RouteTables?.[0]?.RouteTableId;
    },
    async launchTemplateId(name) {
      const r = await aws.ec2.send(new DescribeLaunchTemplatesCommand({ LaunchTemplateNames: [name] }));
      return r.LaunchTemplates?.[0]?.LaunchTemplateId;
    },
  };
}

export class IamRecorder {
  readonly calls: RecordedCall[] = [];

  constructor(
    readonly region: string,
    readonly template: ResolvedTemplate,
  ) {}

  /** Records one call: the rule's checks before it, the call, the rule's checks after it. */
  async record(role: RoleName, call: AwsCall, world: World, proceed: () => Promise<unknown>): Promise<void> {
    const key = `${call.service}:${call.operation}`;
    const rule = IAM_MAP[key];
    const entry: RecordedCall = {
      role,
      region: this.region,
      service: call.service,
      operation: call.operation,
      checks: [],
      resourceTags: {},
    };
    this.calls.push(entry);
    if (!rule) {
      entry.problem = `add ${key} to the IAM map (IAM_MAP in test/support/iam.ts)`;
      await proceed();
      return;
    }
    const facts: Facts = {
      input: call.input ?? {},
      output: undefined,
      region: this.region,
      profiles: this.template.profiles,
      world,
    };
    const before = rule.before ? await rule.before(facts) : [];
    for (const c of before) {
      if (
        c.existing &&
        SERVICE_TAG_PREFIX[c.resource.split(':')[2] ?? ''] &&
        !(c.resource in entry.resourceTags)
      )
        entry.resourceTags[c.resource] = await world.tags(c.resource);
    }
    // AWS authorizes before it looks: a call that then fails (ParameterNotFound, NoSuchKey) was
    // still checked, so its checks are evaluated too.
    entry.checks = before;
    const output = await proceed();
    const after = rule.after ? await rule.after({ ...facts, output }) : [];
    entry.checks = [...before, ...after];
  }

  /** A hook for `createAwsClients({ around })`: calls are the role's, tags come from `world`. */
  around(role: RoleName, world: World): AwsCallHook {
    return (call, proceed) => this.record(role, call, world, proceed);
  }

  /** Records a call that is not sent anywhere (the simulator's and the node scripts' calls). */
  async recordOffline(role: RoleName, call: AwsCall, world: World): Promise<void> {
    await this.record(role, call, world, async () => ({}));
  }

  /**
   * The simulator's heal ports, recorded as the SDK calls the Lambda's adapter
   * (src/adapters/aws/heal-ports.ts) makes for each of them, attributed to `role`.
   */
  simPorts(
    ports: HealPorts,
    role: RoleName,
    cluster: string,
    masterGroup: string,
    backupBucket: string,
  ): HealPorts {
    const world = clusterWorld(cluster, () => masterGroup);
    const rec = (service: string, operation: string, input: unknown) =>
      this.recordOffline(role, { service, operation, input }, world);
    const wrap = <T extends object>(
      port: T,
      calls: Record<string, (...args: never[]) => Array<[string, string, unknown]>>,
    ): T =>
      new Proxy(port, {
        get: (target, prop, receiver) => {
          const value = Reflect.get(target, prop, receiver);
          const sdk = calls[prop as string];
          if (typeof value !== 'function' || !sdk) return value;
          return async (...args: unknown[]) => {
            for (const [s, o, i] of sdk(...(args as never[]))) await rec(s, o, i);
            return value.apply(target, args);
          };
        },
      });
    return {
      ...ports,
      fleet: wrap(ports.fleet, {
        describeGroup: () => [
          ['autoscaling', 'DescribeAutoScalingGroups', {}],
          ['ec2', 'DescribeInstances', {}],
        ],
        completeLifecycleAction: (name: string, id: string) => [
          ['autoscaling', 'CompleteLifecycleAction', { AutoScalingGroupName: name, InstanceId: id }],
        ],
        recordLifecycleHeartbeat: (name: string, id: string) => [
          ['autoscaling', 'RecordLifecycleActionHeartbeat', { AutoScalingGroupName: name, InstanceId: id }],
        ],
        setInstanceUnhealthy: (id: string) => [['autoscaling', 'SetInstanceHealth', { InstanceId: id }]],
      }),
      loadBalancer: wrap(ports.loadBalancer, {
        describeTargets: (tg: string) => [
          ['elasticloadbalancing', 'DescribeTargetHealth', { TargetGroupArn: tg }],
        ],
        registerTarget: (tg: string) => [['elasticloadbalancing', 'RegisterTargets', { TargetGroupArn: tg }]],
        deregisterTarget: (tg: string) => [
          ['elasticloadbalancing', 'DeregisterTargets', { TargetGroupArn: tg }],
        ],
      }),
      parameters: wrap(ports.parameters, {
        get: (name: string) => [['ssm', 'GetParameter', { Name: name, WithDecryption: true }]],
        getByPath: (path: string) => [['ssm', 'GetParametersByPath', { Path: path }]],
        writers: (path: string) => [
          [
            'ssm',
            'DescribeParameters',
            { ParameterFilters: [{ Key: 'Path', Option: 'Recursive', Values: [path] }] },
          ],
        ],
        put: (name: string, _value: string, options?: { secure?: boolean }) => [
          ['ssm', 'PutParameter', { Name: name, ...(options?.secure ? { Type: 'SecureString' } : {}) }],
        ],
        delete: (name: string) => [['ssm', 'DeleteParameter', { Name: name }]],
      }),
      backup:
        ports.backup &&
        wrap(ports.backup, {
          snapshot: () => {
            const o = { Bucket: backupBucket, Key: `${cluster}/snapshot.db` };
            return [
              ['s3', 'CreateMultipartUpload', o],
              ['s3', 'UploadPart', o],
              ['s3', 'CompleteMultipartUpload', o],
            ];
          },
        }),
    };
  }
}

// ---------------------------------------------------------------------------------------------
// The node scripts' `aws` CLI calls (logged by the bats stand-in)

const CLI_SERVICE: Record<string, string> = {
  ssm: 'ssm',
  s3api: 's3',
  autoscaling: 'autoscaling',
  elbv2: 'elasticloadbalancing',
  events: 'events',
  ec2: 'ec2',
};
const pascal = (kebab: string) =>
  kebab
    .split('-')
    .map((w) => w[0]!.toUpperCase() + w.slice(1))
    .join('');

/**
 * The IAM service and operation of `aws <cliService> <command>` (`s3api get-object`: s3, GetObject).
 * Throws for a CLI service not mapped in CLI_SERVICE, naming the call and `where` it was found.
 */
export function cliOperation(
  cliService: string,
  command: string,
  where?: string,
): { service: string; operation: string } {
  const service = CLI_SERVICE[cliService];
  if (!service)
    throw new Error(
      `${where ? `${where}: ` : ''}aws ${cliService} ${command}: add the CLI service "${cliService}" to CLI_SERVICE in test/support/iam.ts`,
    );
  return { service, operation: pascal(command) };
}

/**
 * The stand-in logs each call as its arguments separated by \x1f, calls separated by \x1e. Options
 * become SDK input fields (`--auto-scaling-group-name x` -> AutoScalingGroupName); JSON values are parsed.
 */
export function cliCalls(log: string): Array<AwsCall & { region?: string }> {
  const out: Array<AwsCall & { region?: string }> = [];
  for (const record of log.split('\x1e')) {
    if (!record.trim()) continue;
    const [cliService, command, ...rest] = record.split('\x1f');
    if (cliService?.startsWith('--')) continue; // `aws --version`: no request
    const { service, operation } = cliOperation(cliService!, command!);
    const input: Record<string, unknown> = {};
    let region: string | undefined;
    for (let i = 0; i < rest.length; i++) {
      const a = rest[i]!;
      const isOption = (x: string | undefined) => x !== undefined && /^--[a-z][a-z0-9-]*$/.test(x);
      if (!isOption(a)) continue;
      const next = rest[i + 1];
      const hasValue = next !== undefined && !isOption(next);
      const value = hasValue ? next : true;
      if (hasValue) i++;
      if (a === '--region') region = String(value);
      else if (a === '--with-decryption') input.WithDecryption = true;
      else if (['--query', '--output', '--overwrite'].includes(a)) continue;
      else {
        let v: unknown = value;
        if (typeof v === 'string' && /^[[{]/.test(v)) {
          try {
            v = JSON.parse(v);
          } catch {}
        }
        if (Array.isArray(v))
          v = v.map((e) => (e && typeof e === 'object' ? Object.fromEntries(Object.entries(e)) : e));
        input[pascal(a.slice(2))] = v;
      }
    }
    if (service === 'ssm' && command === 'get-parameters') input.Names = [input.Names].flat();
    out.push({ service, operation, input, region });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Evaluation

/** `<role> may not <action> on <arn>: <why>` for each denied check (and each unmapped call). */
export async function denials(template: ResolvedTemplate, calls: RecordedCall[]): Promise<string[]> {
  const out = new Set<string>();
  const cache = new Map<string, string | undefined>();
  for (const call of calls) {
    if (call.problem) {
      out.add(`${call.role}: ${call.service}:${call.operation}: ${call.problem}`);
      continue;
    }
    const role = template.roles[call.role];
    if (!role) {
      out.add(`no role ${call.role} in ${TEMPLATE}`);
      continue;
    }
    for (const check of call.checks) {
      const context: Record<string, string | string[]> = { ...(check.context ?? {}) };
      const tags = check.existing ? call.resourceTags[check.resource] : undefined;
      const svc = SERVICE_TAG_PREFIX[check.resource.split(':')[2] ?? ''];
      for (const [k, v] of Object.entries(tags ?? {})) {
        context[`aws:ResourceTag/${k}`] = v;
        if (svc) context[`${svc}:ResourceTag/${k}`] = v;
      }
      const key = JSON.stringify([call.role, check.action, check.resource, context]);
      if (!cache.has(key))
        cache.set(
          key,
          await deny(role, call.role, check.action, check.resource, context, template.keyPolicy),
        );
      const why = cache.get(key);
      if (why) out.add(`${why} (in ${call.service}:${call.operation})`);
    }
  }
  return [...out];
}

const DEFAULT_KEY_POLICY = {
  Version: '2012-10-17',
  Statement: [
    {
      Effect: 'Allow',
      Principal: { AWS: `arn:${PARTITION}:iam::${ACCOUNT}:root` },
      Action: 'kms:*',
      Resource: '*',
    },
  ],
};

async function deny(
  role: Role,
  roleName: string,
  action: string,
  resource: string,
  context: Record<string, string | string[]>,
  keyPolicy: Cfn = DEFAULT_KEY_POLICY,
): Promise<string | undefined> {
  // iam-simulate recognises templated context keys only after a `/` (aws:RequestTag/<k>): it drops
  // kms:EncryptionContext:<k> as unknown, and a condition on it then never matches. Carry it under a
  // stand-in `/` key, in the request and in the key policy alike (the comparison is the same).
  const ec = (k: string) => k.replace(/^kms:EncryptionContext:/i, 'aws:RequestTag/kms-encryption-context-');
  if (action.startsWith('kms:')) {
    context = Object.fromEntries(Object.entries(context).map(([k, v]) => [ec(k), v]));
    keyPolicy = JSON.parse(
      JSON.stringify(keyPolicy).replace(/"kms:EncryptionContext:([^"]+)"/gi, (_m, k) =>
        JSON.stringify(ec(`kms:EncryptionContext:${k}`)),
      ),
    );
  }
  const simulation: Simulation = {
    request: {
      principal: role.arn,
      action,
      resource: { resource, accountId: ACCOUNT },
      contextVariables: context,
    },
    identityPolicies: role.policies,
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    // A KMS key answers to its key policy: the cluster key's (infra/tripod-cluster.yaml), or the
    // default one, which leaves it to the account's IAM policies.
    ...(action.startsWith('kms:') ? { resourcePolicy: keyPolicy } : {}),
  };
  const r = await runSimulation(simulation, {});
  const head = `${roleName} may not ${action} on ${resource}`;
  if (r.resultType === 'error' && r.errors.message === 'no.resource.types') {
    // iam-data lists ELB's AddTags with the Classic ELB resource type only (the two APIs share the
    // elasticloadbalancing prefix): evaluate the same request without its resource-type validation.
    const unchecked = runUnsafeSimulation(simulation, {});
    return unchecked === 'Allowed'
      ? undefined
      : `${head}: ${unchecked} (evaluated without resource-type validation: iam-data lacks this resource type for ${action})`;
  }
  if (r.resultType === 'error') return `${head}: the evaluator refused the request: ${r.errors.message}`;
  if (r.overallResult === 'Allowed') return undefined;
  const analyses: RequestAnalysis[] =
    r.resultType === 'single' ? [r.result.analysis] : r.results.map((x) => x.analysis);
  return `${head}: ${why(analyses, context)}`;
}

/** Why no statement allowed it: the statements naming the action, and what of theirs did not match. */
function why(analyses: RequestAnalysis[], context: Record<string, string | string[]>): string {
  const reasons: string[] = [];
  for (const a of analyses) {
    for (const s of a.identityAnalysis?.denyStatements ?? [])
      reasons.push(`denied by ${(s.statement as { Sid?: string }).Sid ?? 'a statement'}`);
    for (const s of a.identityAnalysis?.unmatchedStatements ?? []) {
      if (!s.actionMatch) continue;
      const e = s.explain as StatementExplain;
      const sid = (s.statement as { Sid?: string }).Sid ?? e.identifier;
      if (!s.resourceMatch) {
        reasons.push(`${sid} names the action but not this resource`);
        continue;
      }
      const failed = (e.conditions ?? [])
        .filter((c) => !c.matches)
        .map((c) => {
          const got = context[c.conditionKeyValue];
          return `${c.operator} ${c.conditionKeyValue} (request has ${got === undefined ? 'no value' : JSON.stringify(got)})`;
        });
      reasons.push(`${sid} names it but its condition fails: ${failed.join('; ') || 'see the explain'}`);
    }
  }
  return reasons.length ? reasons.join('; ') : 'no statement of the role allows this action';
}
