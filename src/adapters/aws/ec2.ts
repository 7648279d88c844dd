/**
 * EC2: VPC, subnets, internet gateway, NAT gateways + Elastic IPs, route tables, security groups and
 * launch templates. Thin: SDK calls in, plain values out. Every list call is paginated and filtered
 * by the cluster tag, so its cost does not grow with the rest of the account.
 */
import {
  AllocateAddressCommand,
  AssociateRouteTableCommand,
  AttachInternetGatewayCommand,
  AuthorizeSecurityGroupIngressCommand,
  CreateInternetGatewayCommand,
  CreateLaunchTemplateCommand,
  CreateLaunchTemplateVersionCommand,
  CreateNatGatewayCommand,
  CreateRouteCommand,
  CreateRouteTableCommand,
  CreateSecurityGroupCommand,
  CreateSubnetCommand,
  CreateTagsCommand,
  CreateVpcCommand,
  DeleteInternetGatewayCommand,
  DeleteLaunchTemplateCommand,
  DeleteNatGatewayCommand,
  DeleteRouteTableCommand,
  DeleteSecurityGroupCommand,
  DeleteSubnetCommand,
  DeleteVpcCommand,
  DescribeAddressesCommand,
  DescribeNatGatewaysCommand,
  DetachInternetGatewayCommand,
  DisassociateRouteTableCommand,
  type Filter,
  type IpPermission,
  type LaunchTemplateVersion,
  ModifyLaunchTemplateCommand,
  ModifySubnetAttributeCommand,
  ModifyVpcAttributeCommand,
  paginateDescribeInternetGateways,
  paginateDescribeLaunchTemplates,
  paginateDescribeLaunchTemplateVersions,
  paginateDescribeNatGateways,
  paginateDescribeRouteTables,
  paginateDescribeSecurityGroups,
  paginateDescribeSubnets,
  paginateDescribeVpcs,
  ReleaseAddressCommand,
  ReplaceRouteCommand,
  RevokeSecurityGroupIngressCommand,
  type TagSpecification,
} from '@aws-sdk/client-ec2';
import type { AwsClients } from './clients.js';
import { collect, fromAwsTags, type Tags, toAwsTags, waitFor } from './tags.js';

export const tagFilter = (key: string, value: string): Filter => ({ Name: `tag:${key}`, Values: [value] });

/** Tags at creation (AWS refuses an empty tag specification). */
const spec = (type: TagSpecification['ResourceType'], tags: Tags): TagSpecification[] =>
  Object.keys(tags).length ? [{ ResourceType: type, Tags: toAwsTags(tags) }] : [];

// ---------- VPC ----------

export interface Vpc {
  id: string;
  cidr: string;
  tags: Tags;
}

export async function findVpcs(aws: AwsClients, filters: Filter[]): Promise<Vpc[]> {
  const vpcs = await collect(paginateDescribeVpcs({ client: aws.ec2 }, { Filters: filters }), (p) => p.Vpcs);
  return vpcs.map((v) => ({ id: v.VpcId!, cidr: v.CidrBlock!, tags: fromAwsTags(v.Tags) }));
}

export async function createVpc(aws: AwsClients, cidr: string, tags: Tags): Promise<Vpc> {
  const r = await aws.ec2.send(
    new CreateVpcCommand({ CidrBlock: cidr, TagSpecifications: spec('vpc', tags) }),
  );
  const id = r.Vpc!.VpcId!;
  // Kubernetes nodes need DNS names for their private IPs.
  await aws.ec2.send(new ModifyVpcAttributeCommand({ VpcId: id, EnableDnsSupport: { Value: true } }));
  await aws.ec2.send(new ModifyVpcAttributeCommand({ VpcId: id, EnableDnsHostnames: { Value: true } }));
  return { id, cidr, tags };
}

export async function deleteVpc(aws: AwsClients, id: string): Promise<void> {
  await aws.ec2.send(new DeleteVpcCommand({ VpcId: id }));
}

export async function tagResources(aws: AwsClients, ids: string[], tags: Tags): Promise<void> {
  if (ids.length === 0 || Object.keys(tags).length === 0) return;
  await aws.ec2.send(new CreateTagsCommand({ Resources: ids, Tags: toAwsTags(tags) }));
}

// ---------- subnets ----------

export interface Subnet {
  id: string;
  vpcId: string;
  zone: string;
  cidr: string;
  mapPublicIp: boolean;
  tags: Tags;
}

export async function findSubnets(aws: AwsClients, query: { filters?: Filter[]; ids?: string[] }) {
  const subnets = await collect(
    paginateDescribeSubnets(
      { client: aws.ec2 },
      {
        ...(query.filters ? { Filters: query.filters } : {}),
        ...(query.ids ? { SubnetIds: query.ids } : {}),
      },
    ),
    (p) => p.Subnets,
  );
  return subnets.map(
    (s): Subnet => ({
      id: s.SubnetId!,
      vpcId: s.VpcId!,
      zone: s.AvailabilityZone!,
      cidr: s.CidrBlock!,
      mapPublicIp: s.MapPublicIpOnLaunch ?? false,
      tags: fromAwsTags(s.Tags),
    }),
  );
}

export async function createSubnet(
  aws: AwsClients,
  input: { vpcId: string; zone: string; cidr: string; mapPublicIp: boolean; tags: Tags },
): Promise<Subnet> {
  const r = await aws.ec2.send(
    new CreateSubnetCommand({
      VpcId: input.vpcId,
      AvailabilityZone: input.zone,
      CidrBlock: input.cidr,
      TagSpecifications: spec('subnet', input.tags),
    }),
  );
  const id = r.Subnet!.SubnetId!;
  if (input.mapPublicIp) await setSubnetPublicIp(aws, id, true);
  return {
    id,
    vpcId: input.vpcId,
    zone: input.zone,
    cidr: input.cidr,
    mapPublicIp: input.mapPublicIp,
    tags: input.tags,
  };
}

export async function setSubnetPublicIp(aws: AwsClients, id: string, on: boolean): Promise<void> {
  await aws.ec2.send(new ModifySubnetAttributeCommand({ SubnetId: id, MapPublicIpOnLaunch: { Value: on } }));
}

export async function deleteSubnet(aws: AwsClients, id: string): Promise<void> {
  await aws.ec2.send(new DeleteSubnetCommand({ SubnetId: id }));
}

// ---------- internet gateway ----------

export interface InternetGateway {
  id: string;
  vpcIds: string[];
  tags: Tags;
}

export async function findInternetGateways(aws: AwsClients, filters: Filter[]): Promise<InternetGateway[]> {
  const igws = await collect(
    paginateDescribeInternetGateways({ client: aws.ec2 }, { Filters: filters }),
    (p) => p.InternetGateways,
  );
  return igws.map((g) => ({
    id: g.InternetGatewayId!,
    vpcIds: (g.Attachments ?? []).map((a) => a.VpcId!).filter(Boolean),
    tags: fromAwsTags(g.Tags),
  }));
}

export async function createInternetGateway(aws: AwsClients, vpcId: string, tags: Tags) {
  const r = await aws.ec2.send(
    new CreateInternetGatewayCommand({ TagSpecifications: spec('internet-gateway', tags) }),
  );
  const id = r.InternetGateway!.InternetGatewayId!;
  await attachInternetGateway(aws, id, vpcId);
  return { id, vpcIds: [vpcId], tags };
}

export async function attachInternetGateway(aws: AwsClients, id: string, vpcId: string) {
  await aws.ec2.send(new AttachInternetGatewayCommand({ InternetGatewayId: id, VpcId: vpcId }));
}

export async function deleteInternetGateway(aws: AwsClients, igw: InternetGateway): Promise<void> {
  for (const vpcId of igw.vpcIds) {
    await aws.ec2.send(new DetachInternetGatewayCommand({ InternetGatewayId: igw.id, VpcId: vpcId }));
  }
  await aws.ec2.send(new DeleteInternetGatewayCommand({ InternetGatewayId: igw.id }));
}

// ---------- Elastic IPs and NAT gateways ----------

export interface ElasticIp {
  allocationId: string;
  /** The public IPv4 address. */
  publicIp: string | undefined;
  associationId: string | undefined;
  tags: Tags;
}

/** DescribeAddresses is not paginated by AWS: one call returns every address. */
export async function findElasticIps(aws: AwsClients, filters: Filter[]): Promise<ElasticIp[]> {
  const r = await aws.ec2.send(new DescribeAddressesCommand({ Filters: filters }));
  return (r.Addresses ?? []).map((a) => ({
    allocationId: a.AllocationId!,
    publicIp: a.PublicIp,
    associationId: a.AssociationId,
    tags: fromAwsTags(a.Tags),
  }));
}

export async function allocateElasticIp(aws: AwsClients, tags: Tags): Promise<ElasticIp> {
  const r = await aws.ec2.send(
    new AllocateAddressCommand({ Domain: 'vpc', TagSpecifications: spec('elastic-ip', tags) }),
  );
  return { allocationId: r.AllocationId!, publicIp: r.PublicIp, associationId: undefined, tags };
}

export async function releaseElasticIp(aws: AwsClients, allocationId: string): Promise<void> {
  await aws.ec2.send(new ReleaseAddressCommand({ AllocationId: allocationId }));
}

export interface NatGateway {
  id: string;
  subnetId: string;
  state: string;
  allocationIds: string[];
  /** The public addresses its traffic to the internet leaves from. */
  publicIps: string[];
  tags: Tags;
}

export async function findNatGateways(aws: AwsClients, filters: Filter[]): Promise<NatGateway[]> {
  const nats = await collect(
    paginateDescribeNatGateways(
      { client: aws.ec2 },
      { Filter: [...filters, { Name: 'state', Values: ['pending', 'available', 'failed'] }] },
    ),
    (p) => p.NatGateways,
  );
  return nats.map((n) => ({
    id: n.NatGatewayId!,
    subnetId: n.SubnetId!,
    state: n.State ?? 'unknown',
    allocationIds: (n.NatGatewayAddresses ?? []).map((a) => a.AllocationId!).filter(Boolean),
    publicIps: (n.NatGatewayAddresses ?? []).map((a) => a.PublicIp!).filter(Boolean),
    tags: fromAwsTags(n.Tags),
  }));
}

export async function createNatGateway(
  aws: AwsClients,
  input: { subnetId: string; allocationId: string; tags: Tags },
): Promise<NatGateway> {
  const r = await aws.ec2.send(
    new CreateNatGatewayCommand({
      SubnetId: input.subnetId,
      AllocationId: input.allocationId,
      TagSpecifications: spec('natgateway', input.tags),
    }),
  );
  const n = r.NatGateway!;
  return {
    id: n.NatGatewayId!,
    subnetId: input.subnetId,
    state: n.State ?? 'pending',
    allocationIds: [input.allocationId],
    publicIps: (n.NatGatewayAddresses ?? []).map((x) => x.PublicIp!).filter(Boolean),
    tags: input.tags,
  };
}

export async function waitNatGateway(
  aws: AwsClients,
  id: string,
  want: 'available' | 'deleted',
  timeoutMs: number,
): Promise<void> {
  await waitFor(
    `NAT gateway ${id} to be ${want}`,
    async () => {
      const r = await aws.ec2.send(new DescribeNatGatewaysCommand({ NatGatewayIds: [id] }));
      const state = r.NatGateways?.[0]?.State ?? 'deleted';
      if (state === 'failed' && want === 'available') {
        throw new Error(
          `NAT gateway ${id} failed: ${r.NatGateways?.[0]?.FailureMessage ?? 'no reason given'}`,
        );
      }
      return state === want ? true : undefined;
    },
    { timeoutMs, intervalMs: 1000 },
  );
}

export async function deleteNatGateway(aws: AwsClients, id: string): Promise<void> {
  await aws.ec2.send(new DeleteNatGatewayCommand({ NatGatewayId: id }));
}

// ---------- route tables ----------

export interface Route {
  destination: string;
  gatewayId?: string;
  natGatewayId?: string;
}

export interface RouteTable {
  id: string;
  vpcId: string;
  routes: Route[];
  associations: Array<{ id: string; subnetId: string }>;
  tags: Tags;
}

export async function findRouteTables(aws: AwsClients, filters: Filter[]): Promise<RouteTable[]> {
  const tables = await collect(
    paginateDescribeRouteTables({ client: aws.ec2 }, { Filters: filters }),
    (p) => p.RouteTables,
  );
  return tables.map((t) => ({
    id: t.RouteTableId!,
    vpcId: t.VpcId!,
    routes: (t.Routes ?? [])
      .filter((r) => r.DestinationCidrBlock && r.GatewayId !== 'local')
      .map((r) => ({
        destination: r.DestinationCidrBlock!,
        ...(r.GatewayId ? { gatewayId: r.GatewayId } : {}),
        ...(r.NatGatewayId ? { natGatewayId: r.NatGatewayId } : {}),
      })),
    associations: (t.Associations ?? [])
      .filter((a) => a.SubnetId && !a.Main)
      .map((a) => ({ id: a.RouteTableAssociationId!, subnetId: a.SubnetId! })),
    tags: fromAwsTags(t.Tags),
  }));
}

export async function createRouteTable(aws: AwsClients, vpcId: string, tags: Tags): Promise<string> {
  const r = await aws.ec2.send(
    new CreateRouteTableCommand({ VpcId: vpcId, TagSpecifications: spec('route-table', tags) }),
  );
  return r.RouteTable!.RouteTableId!;
}

export async function putRoute(aws: AwsClients, tableId: string, route: Route, replace: boolean) {
  const input = {
    RouteTableId: tableId,
    DestinationCidrBlock: route.destination,
    ...(route.gatewayId ? { GatewayId: route.gatewayId } : {}),
    ...(route.natGatewayId ? { NatGatewayId: route.natGatewayId } : {}),
  };
  await aws.ec2.send(replace ? new ReplaceRouteCommand(input) : new CreateRouteCommand(input));
}

export async function associateRouteTable(aws: AwsClients, tableId: string, subnetId: string) {
  await aws.ec2.send(new AssociateRouteTableCommand({ RouteTableId: tableId, SubnetId: subnetId }));
}

export async function disassociateRouteTable(aws: AwsClients, associationId: string) {
  await aws.ec2.send(new DisassociateRouteTableCommand({ AssociationId: associationId }));
}

export async function deleteRouteTable(aws: AwsClients, table: RouteTable): Promise<void> {
  for (const a of table.associations) await disassociateRouteTable(aws, a.id);
  await aws.ec2.send(new DeleteRouteTableCommand({ RouteTableId: table.id }));
}

// ---------- security groups ----------

export interface IngressRule {
  protocol: 'tcp' | 'udp' | '-1';
  fromPort: number;
  toPort: number;
  /** A security group id or an IPv4 CIDR. */
  source: { groupId: string } | { cidr: string };
  description?: string;
}

export interface SecurityGroup {
  id: string;
  name: string;
  vpcId: string;
  description: string;
  ingress: IngressRule[];
  tags: Tags;
}

function flattenPermissions(perms: IpPermission[] | undefined): IngressRule[] {
  const out: IngressRule[] = [];
  for (const p of perms ?? []) {
    const protocol = (p.IpProtocol === '-1' ? '-1' : p.IpProtocol) as IngressRule['protocol'];
    const fromPort = p.FromPort ?? -1;
    const toPort = p.ToPort ?? -1;
    for (const g of p.UserIdGroupPairs ?? []) {
      out.push({
        protocol,
        fromPort,
        toPort,
        source: { groupId: g.GroupId! },
        description: g.Description ?? '',
      });
    }
    for (const r of p.IpRanges ?? []) {
      out.push({ protocol, fromPort, toPort, source: { cidr: r.CidrIp! }, description: r.Description ?? '' });
    }
  }
  return out;
}

function toPermission(rule: IngressRule): IpPermission {
  return {
    IpProtocol: rule.protocol,
    ...(rule.protocol === '-1' ? {} : { FromPort: rule.fromPort, ToPort: rule.toPort }),
    ...('groupId' in rule.source
      ? { UserIdGroupPairs: [{ GroupId: rule.source.groupId, Description: rule.description }] }
      : { IpRanges: [{ CidrIp: rule.source.cidr, Description: rule.description }] }),
  };
}

export async function findSecurityGroups(aws: AwsClients, filters: Filter[]): Promise<SecurityGroup[]> {
  const groups = await collect(
    paginateDescribeSecurityGroups({ client: aws.ec2 }, { Filters: filters }),
    (p) => p.SecurityGroups,
  );
  return groups.map((g) => ({
    id: g.GroupId!,
    name: g.GroupName!,
    vpcId: g.VpcId!,
    description: g.Description ?? '',
    ingress: flattenPermissions(g.IpPermissions),
    tags: fromAwsTags(g.Tags),
  }));
}

export async function createSecurityGroup(
  aws: AwsClients,
  input: { name: string; vpcId: string; description: string; tags: Tags },
): Promise<SecurityGroup> {
  const r = await aws.ec2.send(
    new CreateSecurityGroupCommand({
      GroupName: input.name,
      VpcId: input.vpcId,
      Description: input.description,
      TagSpecifications: spec('security-group', input.tags),
    }),
  );
  return { id: r.GroupId!, ...input, ingress: [] };
}

export async function authorizeIngress(aws: AwsClients, groupId: string, rules: IngressRule[]) {
  if (rules.length === 0) return;
  await aws.ec2.send(
    new AuthorizeSecurityGroupIngressCommand({ GroupId: groupId, IpPermissions: rules.map(toPermission) }),
  );
}

export async function revokeIngress(aws: AwsClients, groupId: string, rules: IngressRule[]) {
  if (rules.length === 0) return;
  await aws.ec2.send(
    new RevokeSecurityGroupIngressCommand({ GroupId: groupId, IpPermissions: rules.map(toPermission) }),
  );
}

export async function deleteSecurityGroup(aws: AwsClients, id: string): Promise<void> {
  await aws.ec2.send(new DeleteSecurityGroupCommand({ GroupId: id }));
}

// ---------- launch templates ----------

/** The launch template fields tripod owns. */
export interface LaunchTemplateData {
  image: string;
  instanceType: string;
  instanceProfile: string;
  securityGroupIds: string[];
  /** Base64 as stored by EC2. */
  userData: string;
  volumeSize: number;
  /** Tags the instances (and their volumes) get. */
  instanceTags: Tags;
  /**
   * IMDSv2 PUT response hop limit: 1 keeps the node's role credentials away from containers (a pod's
   * packet crosses one more hop); AWS's default is 1, tripod's templates once set 2.
   */
  metadataHopLimit: number;
}

export interface LaunchTemplate {
  id: string;
  name: string;
  latestVersion: number;
  defaultVersion: number;
  tags: Tags;
}

export async function findLaunchTemplates(aws: AwsClients, filters: Filter[]): Promise<LaunchTemplate[]> {
  const lts = await collect(
    paginateDescribeLaunchTemplates({ client: aws.ec2 }, { Filters: filters }),
    (p) => p.LaunchTemplates,
  );
  return lts.map((t) => ({
    id: t.LaunchTemplateId!,
    name: t.LaunchTemplateName!,
    latestVersion: t.LatestVersionNumber ?? 1,
    defaultVersion: t.DefaultVersionNumber ?? 1,
    tags: fromAwsTags(t.Tags),
  }));
}

function fromVersion(v: LaunchTemplateVersion): LaunchTemplateData {
  const d = v.LaunchTemplateData ?? {};
  const instanceTags = d.TagSpecifications?.find((s) => s.ResourceType === 'instance')?.Tags;
  return {
    image: d.ImageId ?? '',
    instanceType: d.InstanceType ?? '',
    instanceProfile: d.IamInstanceProfile?.Name ?? d.IamInstanceProfile?.Arn ?? '',
    securityGroupIds: [...(d.SecurityGroupIds ?? [])].sort(),
    userData: d.UserData ?? '',
    volumeSize: d.BlockDeviceMappings?.[0]?.Ebs?.VolumeSize ?? 0,
    instanceTags: fromAwsTags(instanceTags),
    metadataHopLimit: d.MetadataOptions?.HttpPutResponseHopLimit ?? 1,
  };
}

function toTemplateData(d: LaunchTemplateData) {
  return {
    ImageId: d.image,
    InstanceType: d.instanceType as never,
    IamInstanceProfile: { Name: d.instanceProfile },
    SecurityGroupIds: d.securityGroupIds,
    UserData: d.userData,
    // IMDSv2 only (node credentials are not reachable by a simple SSRF), hop limit 1 (nor from a pod).
    MetadataOptions: { HttpTokens: 'required' as const, HttpPutResponseHopLimit: d.metadataHopLimit },
    BlockDeviceMappings: [
      {
        DeviceName: '/dev/sda1',
        Ebs: {
          VolumeSize: d.volumeSize,
          VolumeType: 'gp3' as const,
          Encrypted: true,
          DeleteOnTermination: true,
        },
      },
    ],
    TagSpecifications: [
      { ResourceType: 'instance' as const, Tags: toAwsTags(d.instanceTags) },
      { ResourceType: 'volume' as const, Tags: toAwsTags(d.instanceTags) },
    ],
  };
}

export async function getLaunchTemplateVersion(
  aws: AwsClients,
  templateId: string,
  version: number,
): Promise<LaunchTemplateData | undefined> {
  const versions = await collect(
    paginateDescribeLaunchTemplateVersions(
      { client: aws.ec2 },
      { LaunchTemplateId: templateId, Versions: [String(version)] },
    ),
    (p) => p.LaunchTemplateVersions,
  );
  return versions[0] ? fromVersion(versions[0]) : undefined;
}

export async function createLaunchTemplate(
  aws: AwsClients,
  name: string,
  data: LaunchTemplateData,
  tags: Tags,
): Promise<LaunchTemplate> {
  const r = await aws.ec2.send(
    new CreateLaunchTemplateCommand({
      LaunchTemplateName: name,
      LaunchTemplateData: toTemplateData(data),
      TagSpecifications: spec('launch-template', tags),
    }),
  );
  return { id: r.LaunchTemplate!.LaunchTemplateId!, name, latestVersion: 1, defaultVersion: 1, tags };
}

/** A new version with the whole data (moto ignores SourceVersion), made the default. */
export async function createLaunchTemplateVersion(
  aws: AwsClients,
  templateId: string,
  data: LaunchTemplateData,
): Promise<number> {
  const r = await aws.ec2.send(
    new CreateLaunchTemplateVersionCommand({
      LaunchTemplateId: templateId,
      LaunchTemplateData: toTemplateData(data),
    }),
  );
  const version = r.LaunchTemplateVersion!.VersionNumber!;
  await aws.ec2.send(
    new ModifyLaunchTemplateCommand({ LaunchTemplateId: templateId, DefaultVersion: String(version) }),
  );
  return version;
}

export async function deleteLaunchTemplate(aws: AwsClients, id: string): Promise<void> {
  await aws.ec2.send(new DeleteLaunchTemplateCommand({ LaunchTemplateId: id }));
}
