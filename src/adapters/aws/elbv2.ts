/**
 * ELBv2: network load balancers, target groups, listeners and their attributes. Thin: SDK calls in,
 * plain values out. Lists are paginated; ownership is read with one DescribeTags for up to 20 ARNs.
 */
import {
  AddTagsCommand,
  CreateListenerCommand,
  CreateLoadBalancerCommand,
  CreateTargetGroupCommand,
  DeleteListenerCommand,
  DeleteLoadBalancerCommand,
  DeleteTargetGroupCommand,
  DescribeLoadBalancerAttributesCommand,
  DescribeLoadBalancersCommand,
  DescribeTagsCommand,
  ModifyListenerCommand,
  ModifyLoadBalancerAttributesCommand,
  ModifyTargetGroupCommand,
  paginateDescribeListeners,
  paginateDescribeLoadBalancers,
  paginateDescribeTargetGroups,
  SetSubnetsCommand,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import type { AwsClients } from './clients.js';
import { collect, fromAwsTags, type Tags, toAwsTags, waitFor } from './tags.js';

export interface LoadBalancer {
  arn: string;
  name: string;
  scheme: 'internet-facing' | 'internal';
  type: string;
  dnsName: string;
  canonicalHostedZoneId: string;
  subnetIds: string[];
  securityGroupIds: string[];
  state: string;
}

export interface TargetGroup {
  arn: string;
  name: string;
  protocol: string;
  port: number;
  vpcId: string;
  targetType: string;
  healthCheck: { protocol: string; path: string | undefined; port: string };
  loadBalancerArns: string[];
}

export interface Listener {
  arn: string;
  port: number;
  protocol: string;
  targetGroupArn: string | undefined;
}

/** Every load balancer whose name starts with `prefix` (the account's list, paginated, filtered here). */
export async function findLoadBalancers(aws: AwsClients, prefix: string): Promise<LoadBalancer[]> {
  const lbs = await collect(
    paginateDescribeLoadBalancers({ client: aws.elbv2 }, { PageSize: 400 }),
    (p) => p.LoadBalancers,
  );
  return lbs.filter((l) => l.LoadBalancerName?.startsWith(prefix)).map(fromLb);
}

// biome-ignore lint/suspicious/noExplicitAny: SDK shape
function fromLb(l: any): LoadBalancer {
  return {
    arn: l.LoadBalancerArn!,
    name: l.LoadBalancerName!,
    scheme: l.Scheme as LoadBalancer['scheme'],
    type: l.Type ?? 'network',
    dnsName: l.DNSName ?? '',
    canonicalHostedZoneId: l.CanonicalHostedZoneId ?? '',
    subnetIds: (l.AvailabilityZones ?? [])
      .map((z: { SubnetId?: string }) => z.SubnetId)
      .filter(Boolean)
      .sort(),
    securityGroupIds: [...(l.SecurityGroups ?? [])].sort(),
    state: l.State?.Code ?? 'unknown',
  };
}

export async function findTargetGroups(aws: AwsClients, prefix: string): Promise<TargetGroup[]> {
  const tgs = await collect(
    paginateDescribeTargetGroups({ client: aws.elbv2 }, { PageSize: 400 }),
    (p) => p.TargetGroups,
  );
  return tgs
    .filter((t) => t.TargetGroupName?.startsWith(prefix))
    .map((t) => ({
      arn: t.TargetGroupArn!,
      name: t.TargetGroupName!,
      protocol: t.Protocol ?? '',
      port: t.Port ?? 0,
      vpcId: t.VpcId ?? '',
      targetType: t.TargetType ?? 'instance',
      healthCheck: {
        protocol: t.HealthCheckProtocol ?? '',
        path: t.HealthCheckPath,
        port: t.HealthCheckPort ?? 'traffic-port',
      },
      loadBalancerArns: [...(t.LoadBalancerArns ?? [])],
    }));
}

/** Tags of up to 20 ARNs per call. */
export async function describeTags(aws: AwsClients, arns: string[]): Promise<Map<string, Tags>> {
  const out = new Map<string, Tags>();
  for (let i = 0; i < arns.length; i += 20) {
    const r = await aws.elbv2.send(new DescribeTagsCommand({ ResourceArns: arns.slice(i, i + 20) }));
    for (const d of r.TagDescriptions ?? []) out.set(d.ResourceArn!, fromAwsTags(d.Tags));
  }
  return out;
}

export async function addTags(aws: AwsClients, arn: string, tags: Tags) {
  await aws.elbv2.send(new AddTagsCommand({ ResourceArns: [arn], Tags: toAwsTags(tags) }));
}

export async function findListeners(aws: AwsClients, loadBalancerArn: string): Promise<Listener[]> {
  const ls = await collect(
    paginateDescribeListeners({ client: aws.elbv2 }, { LoadBalancerArn: loadBalancerArn }),
    (p) => p.Listeners,
  );
  return ls.map((l) => ({
    arn: l.ListenerArn!,
    port: l.Port ?? 0,
    protocol: l.Protocol ?? '',
    targetGroupArn: l.DefaultActions?.find((a) => a.Type === 'forward')?.TargetGroupArn,
  }));
}

export async function getAttributes(
  aws: AwsClients,
  loadBalancerArn: string,
): Promise<Record<string, string>> {
  const r = await aws.elbv2.send(
    new DescribeLoadBalancerAttributesCommand({ LoadBalancerArn: loadBalancerArn }),
  );
  return Object.fromEntries((r.Attributes ?? []).map((a) => [a.Key!, a.Value ?? '']));
}

export async function setAttributes(
  aws: AwsClients,
  loadBalancerArn: string,
  attributes: Record<string, string>,
) {
  await aws.elbv2.send(
    new ModifyLoadBalancerAttributesCommand({
      LoadBalancerArn: loadBalancerArn,
      Attributes: Object.entries(attributes).map(([Key, Value]) => ({ Key, Value })),
    }),
  );
}

export async function createLoadBalancer(
  aws: AwsClients,
  input: {
    name: string;
    scheme: LoadBalancer['scheme'];
    subnetIds: string[];
    securityGroupIds: string[];
    tags: Tags;
  },
): Promise<LoadBalancer> {
  const r = await aws.elbv2.send(
    new CreateLoadBalancerCommand({
      Name: input.name,
      Type: 'network',
      Scheme: input.scheme,
      Subnets: input.subnetIds,
      ...(input.securityGroupIds.length ? { SecurityGroups: input.securityGroupIds } : {}),
      Tags: toAwsTags(input.tags),
    }),
  );
  return fromLb(r.LoadBalancers![0]!);
}

export async function waitLoadBalancerActive(aws: AwsClients, arn: string, timeoutMs: number) {
  await waitFor(
    `load balancer ${arn} to be active`,
    async () => {
      const r = await aws.elbv2.send(new DescribeLoadBalancersCommand({ LoadBalancerArns: [arn] }));
      const state = r.LoadBalancers?.[0]?.State?.Code;
      if (state === 'failed')
        throw new Error(`load balancer ${arn} failed: ${r.LoadBalancers?.[0]?.State?.Reason}`);
      return state === 'active' ? true : undefined;
    },
    { timeoutMs, intervalMs: 2000 },
  );
}

export async function deleteLoadBalancer(aws: AwsClients, arn: string) {
  await aws.elbv2.send(new DeleteLoadBalancerCommand({ LoadBalancerArn: arn }));
}

export interface TargetGroupInput {
  name: string;
  protocol: string;
  port: number;
  vpcId: string;
  healthCheck: { protocol: string; path?: string; port: string };
  tags: Tags;
}

export async function createTargetGroup(aws: AwsClients, t: TargetGroupInput): Promise<string> {
  const r = await aws.elbv2.send(
    new CreateTargetGroupCommand({
      Name: t.name,
      Protocol: t.protocol as never,
      Port: t.port,
      VpcId: t.vpcId,
      TargetType: 'instance',
      HealthCheckProtocol: t.healthCheck.protocol as never,
      HealthCheckPort: t.healthCheck.port,
      ...(t.healthCheck.path ? { HealthCheckPath: t.healthCheck.path } : {}),
      HealthCheckIntervalSeconds: 10,
      HealthyThresholdCount: 2,
      UnhealthyThresholdCount: 2,
      Tags: toAwsTags(t.tags),
    }),
  );
  return r.TargetGroups![0]!.TargetGroupArn!;
}

export async function modifyTargetGroupHealthCheck(
  aws: AwsClients,
  arn: string,
  hc: { protocol: string; path?: string; port: string },
) {
  await aws.elbv2.send(
    new ModifyTargetGroupCommand({
      TargetGroupArn: arn,
      HealthCheckProtocol: hc.protocol as never,
      HealthCheckPort: hc.port,
      ...(hc.path ? { HealthCheckPath: hc.path } : {}),
    }),
  );
}

export async function deleteTargetGroup(aws: AwsClients, arn: string) {
  await aws.elbv2.send(new DeleteTargetGroupCommand({ TargetGroupArn: arn }));
}

export async function createListener(
  aws: AwsClients,
  input: { loadBalancerArn: string; port: number; protocol: string; targetGroupArn: string; tags: Tags },
): Promise<string> {
  const r = await aws.elbv2.send(
    new CreateListenerCommand({
      LoadBalancerArn: input.loadBalancerArn,
      Port: input.port,
      Protocol: input.protocol as never,
      DefaultActions: [{ Type: 'forward', TargetGroupArn: input.targetGroupArn }],
      Tags: toAwsTags(input.tags),
    }),
  );
  return r.Listeners![0]!.ListenerArn!;
}

export async function modifyListener(
  aws: AwsClients,
  arn: string,
  input: { protocol: string; targetGroupArn: string },
) {
  await aws.elbv2.send(
    new ModifyListenerCommand({
      ListenerArn: arn,
      Protocol: input.protocol as never,
      DefaultActions: [{ Type: 'forward', TargetGroupArn: input.targetGroupArn }],
    }),
  );
}

export async function deleteListener(aws: AwsClients, arn: string) {
  await aws.elbv2.send(new DeleteListenerCommand({ ListenerArn: arn }));
}

export async function setSubnets(aws: AwsClients, loadBalancerArn: string, subnetIds: string[]) {
  await aws.elbv2.send(new SetSubnetsCommand({ LoadBalancerArn: loadBalancerArn, Subnets: subnetIds }));
}
