/**
 * Contract test against moto: examples/four-zones.yaml brings its own VPC and subnets (made here
 * first, without tripod's tags) and a Route 53 alias for the API. tripod must use them, never
 * change or delete them, and validate them.
 */
import { DescribeAutoScalingGroupsCommand } from '@aws-sdk/client-auto-scaling';
import { DescribeLoadBalancersCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { CreateHostedZoneCommand } from '@aws-sdk/client-route-53';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { AwsClients } from '../../src/adapters/aws/clients.js';
import { createSubnet, createVpc, findSubnets, findVpcs } from '../../src/adapters/aws/ec2.js';
import { getAliasRecord } from '../../src/adapters/aws/route53.js';
import type { ClusterSpec } from '../../src/cluster-spec/schema.js';
import { applyPlan, destroy } from '../../src/provision/apply.js';
import { planCluster } from '../../src/provision/plan.js';
import { changed, clients, ensureReconcilerRole, exampleSpec } from '../support/provision-support.js';

const endpoint = inject('motoEndpoint');
const REGION = 'ap-northeast-2';
const ZONES = ['a', 'b', 'c', 'd'].map((l) => `${REGION}${l}`);

let aws: AwsClients;
let spec: ClusterSpec;
let vpcId: string;
let subnetIds: string[];
let publicSubnetIds: string[];

beforeAll(async () => {
  await ensureReconcilerRole(endpoint, 'pt-four');
  aws = clients(endpoint, REGION);
  const vpc = await createVpc(aws, '10.50.0.0/16', { Name: 'brought-by-user' });
  vpcId = vpc.id;
  subnetIds = [];
  for (const [i, zone] of ZONES.entries()) {
    const s = await createSubnet(aws, {
      vpcId,
      zone,
      cidr: `10.50.${i * 16}.0/20`,
      mapPublicIp: false,
      tags: {},
    });
    subnetIds.push(s.id);
  }
  // the public subnets the internet-facing service load balancer goes in
  publicSubnetIds = [];
  for (const [i, zone] of ZONES.entries()) {
    const s = await createSubnet(aws, {
      vpcId,
      zone,
      cidr: `10.50.${128 + i * 16}.0/20`,
      mapPublicIp: true,
      tags: {},
    });
    publicSubnetIds.push(s.id);
  }
  const zone = await aws.route53.send(
    new CreateHostedZoneCommand({ Name: 'demo-us.example.com', CallerReference: `pt-four-${Date.now()}` }),
  );
  const zoneId = zone.HostedZone!.Id!.replace('/hostedzone/', '');
  const base = exampleSpec('examples/four-zones.yaml', [
    ['name: demo-us', 'name: pt-four'],
    ['region: us-east-1', `region: ${REGION}`],
    [/us-east-1([abcd])/g, `${REGION}$1`],
    ['vpc-0a1b2c3d4e5f60718', vpcId],
    ['subnet-0aa11bb22cc33dd44', subnetIds[0]!],
    ['subnet-0bb22cc33dd44ee55', subnetIds[1]!],
    ['subnet-0cc33dd44ee55ff66', subnetIds[2]!],
    ['subnet-0dd44ee55ff667788', subnetIds[3]!],
    ['subnet-0ee55ff66aa77bb88', publicSubnetIds[0]!],
    ['subnet-0ff66aa77bb88cc99', publicSubnetIds[1]!],
    ['subnet-0a1a2a3a4a5a6a7a8', publicSubnetIds[2]!],
    ['subnet-0b1b2b3b4b5b6b7b8', publicSubnetIds[3]!],
  ]);
  // moto's hosted zone ids do not have AWS's Z... form the schema checks: set it on the parsed spec.
  spec = changed(base, (s) => {
    s.apiEndpoint.hostedZoneId = zoneId;
  });
});
afterAll(() => aws?.destroy());

describe('four zones, existing VPC', () => {
  it('plans no network resources: the spec brings them', async () => {
    const { plan } = await planCluster(aws, spec);
    const keys = plan.changes.map((c) => c.key);
    expect(keys.filter((k) => /^(vpc|igw|subnet|nat|rtb)/.test(k))).toEqual([]);
    expect(keys).toContain('dns/api');
    expect(keys).not.toContain('dns/svc');
    expect(plan.conflicts).toEqual([]);
  });

  it('applies 5 masters over the 4 given subnets, an internal API LB with an alias record, then no changes', async () => {
    await applyPlan(await planCluster(aws, spec));
    expect((await planCluster(aws, spec)).plan.changes).toEqual([]);

    const g = (
      await aws.autoScaling.send(
        new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: ['pt-four-masters'] }),
      )
    ).AutoScalingGroups![0]!;
    expect([g.MinSize, g.MaxSize, g.DesiredCapacity]).toEqual([5, 5, 5]);
    expect(g.VPCZoneIdentifier!.split(',').sort()).toEqual([...subnetIds].sort());

    const lb = (await aws.elbv2.send(new DescribeLoadBalancersCommand({ Names: ['pt-four-api'] })))
      .LoadBalancers![0]!;
    expect(lb.Scheme).toBe('internal');
    // internal API load balancer and the nodes in the private subnets, the internet-facing service one in the public
    expect(lb.AvailabilityZones!.map((z) => z.SubnetId).sort()).toEqual([...subnetIds].sort());
    const svc = (await aws.elbv2.send(new DescribeLoadBalancersCommand({ Names: ['pt-four-svc'] })))
      .LoadBalancers![0]!;
    expect(svc.Scheme).toBe('internet-facing');
    expect(svc.AvailabilityZones!.map((z) => z.SubnetId).sort()).toEqual([...publicSubnetIds].sort());
    const workers = (
      await aws.autoScaling.send(
        new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: ['pt-four-workers'] }),
      )
    ).AutoScalingGroups![0]!;
    expect(workers.VPCZoneIdentifier!.split(',').sort()).toEqual([...subnetIds].sort());
    const alias = await getAliasRecord(aws, spec.apiEndpoint.hostedZoneId!, 'api.demo-us.example.com');
    expect(alias?.targetDnsName).toBe(lb.DNSName!.toLowerCase());
  });

  it('refuses a subnet that is not in its zone', async () => {
    const wrong = changed(spec, (s) => {
      s.network.subnets![ZONES[0]!] = subnetIds[1]!;
    });
    const { plan } = await planCluster(aws, wrong);
    expect(plan.conflicts).toEqual([
      expect.stringMatching(
        new RegExp(`network.subnets.${ZONES[0]}: subnet ${subnetIds[1]} is in ${ZONES[1]}`),
      ),
    ]);
  });

  it('refuses a public subnet of another VPC, and pod or service ranges inside the VPC', async () => {
    const other = await createVpc(aws, '10.60.0.0/16', { Name: 'someone-else' });
    const stray = await createSubnet(aws, {
      vpcId: other.id,
      zone: ZONES[1]!,
      cidr: '10.60.0.0/24',
      mapPublicIp: true,
      tags: {},
    });
    const wrong = changed(spec, (s) => {
      s.network.publicSubnets![ZONES[1]!] = stray.id;
      s.network.services = '10.50.0.0/16';
    });
    const { plan } = await planCluster(aws, wrong);
    expect(plan.conflicts).toEqual([
      `network.publicSubnets.${ZONES[1]}: subnet ${stray.id} is in ${other.id}, not ${vpcId}`,
      `network.services: 10.50.0.0/16 overlaps VPC ${vpcId} (10.50.0.0/16): set network.services to a range outside it`,
    ]);
  });

  it('destroy removes the cluster and its alias record but leaves the VPC and subnets it was given', async () => {
    await destroy(aws, spec);
    expect((await planCluster(aws, spec, { destroy: true })).plan.changes).toEqual([]);
    expect(
      await getAliasRecord(aws, spec.apiEndpoint.hostedZoneId!, 'api.demo-us.example.com'),
    ).toBeUndefined();
    expect((await findVpcs(aws, [{ Name: 'vpc-id', Values: [vpcId] }])).map((v) => v.id)).toEqual([vpcId]);
    expect((await findSubnets(aws, { ids: subnetIds })).length).toBe(4);
  });
});
