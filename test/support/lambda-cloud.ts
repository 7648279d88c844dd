/**
 * A tripod cluster's AWS side in moto for the reconciler's tests: VPC, master and worker groups
 * (tagged), API and service target groups, the ReconcilerConfig in SSM. Plus what moto lacks, through
 * aws-sdk-client-mock: lifecycle hooks (Pending:Wait / Terminating:Wait overlays on
 * DescribeAutoScalingGroups, CompleteLifecycleAction, RecordLifecycleActionHeartbeat), targets
 * that keep draining, and SSM's LastModifiedUser (moto says "N/A"): writes through `aws.ssm` are the
 * reconciler's, a node's go through `ssmWriters.writeAs(<its session>, ...)`.
 */
import {
  AutoScalingClient,
  CompleteLifecycleActionCommand,
  type CompleteLifecycleActionCommandInput,
  CreateAutoScalingGroupCommand,
  DescribeAutoScalingGroupsCommand,
  DescribeWarmPoolCommand,
  RecordLifecycleActionHeartbeatCommand,
  type RecordLifecycleActionHeartbeatCommandInput,
  SetInstanceHealthCommand,
  TerminateInstanceInAutoScalingGroupCommand,
} from '@aws-sdk/client-auto-scaling';
import { CreateLaunchTemplateCommand, CreateSubnetCommand, CreateVpcCommand } from '@aws-sdk/client-ec2';
import {
  CreateTargetGroupCommand,
  DeregisterTargetsCommand,
  DescribeTargetGroupAttributesCommand,
  DescribeTargetHealthCommand,
  ElasticLoadBalancingV2Client,
  RegisterTargetsCommand,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { PutParameterCommand } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { type AwsClients, createAwsClients } from '../../src/adapters/aws/clients.js';
import { resourceNames } from '../../src/contract/names.js';
import { CLUSTER_TAG, configParameter } from '../../src/contract/protocol.js';
import type { ReconcilerConfig } from '../../src/heal/config.js';
import { SsmWriters } from './ssm-writers.js';

const creds = { accessKeyId: 'test', secretAccessKey: 'test' };

export interface LambdaCloud {
  aws: AwsClients;
  config: ReconcilerConfig;
  masters: string[];
  workers: string[];
  /** The autoscaling client the handler uses (moto + hook overlays). */
  autoScaling: AutoScalingClient;
  /** The ELBv2 client the handler uses (moto + optional draining). */
  elbv2: ElasticLoadBalancingV2Client;
  /** instance id -> pending hook state. */
  pendingHooks: Map<string, 'Pending:Wait' | 'Terminating:Wait'>;
  completions: CompleteLifecycleActionCommandInput[];
  heartbeats: RecordLifecycleActionHeartbeatCommandInput[];
  /** Instances that stay `draining` in every target group once deregistered. */
  keepDraining: Set<string>;
  untaggedGroup: string;
  /** Who wrote each parameter (DescribeParameters' LastModifiedUser). */
  ssmWriters: SsmWriters;
}

/** Writes `config` (the cloud's own by default) as the cluster's configuration parameter, as provision does. */
export async function publishConfig(
  cloud: LambdaCloud,
  config: ReconcilerConfig = cloud.config,
): Promise<void> {
  await cloud.aws.ssm.send(
    new PutParameterCommand({
      Name: configParameter(cloud.config.cluster),
      Value: JSON.stringify(config),
      Type: 'String',
      Overwrite: true,
    }),
  );
}

/** A role session ARN in moto's account (an EC2 instance's session is its instance id). */
export const sessionArn = (role: string, session: string) =>
  `arn:aws:sts::123456789012:assumed-role/${role}/${session}`;

/**
 * `octet`: the VPC is 127.<octet>.0.0/16 (moto accepts it), so the instances' private addresses are
 * loopback addresses: whatever the reconciler dials (etcd, /readyz) stays on this machine.
 */
export async function createLambdaCloud(
  endpoint: string,
  cluster: string,
  region: string,
  octet = 100 + Math.floor(Math.random() * 100),
): Promise<LambdaCloud> {
  const aws = createAwsClients({ region, endpoint, maxAttempts: 1, credentials: creds });
  const names = resourceNames(cluster);
  const ssmWriters = new SsmWriters(sessionArn(`tripod-${cluster}-reconciler`, `${cluster}-reconciler`));
  ssmWriters.attach(aws.ssm);
  const zone = `${region}a`;
  const vpc = await aws.ec2.send(new CreateVpcCommand({ CidrBlock: `127.${octet}.0.0/16` }));
  const vpcId = vpc.Vpc!.VpcId!;
  const subnet = await aws.ec2.send(
    new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: `127.${octet}.1.0/24`, AvailabilityZone: zone }),
  );
  const subnetId = subnet.Subnet!.SubnetId!;
  const tags = [{ Key: CLUSTER_TAG, Value: cluster, PropagateAtLaunch: true }];
  for (const [lt, group, size, groupTags] of [
    [names.masterLaunchTemplate, names.masterGroup, 3, tags],
    [names.workerLaunchTemplate, names.workerGroup, 2, tags],
    [`${cluster}-other`, `${cluster}-other`, 1, []],
  ] as const) {
    await aws.ec2.send(
      new CreateLaunchTemplateCommand({
        LaunchTemplateName: lt,
        LaunchTemplateData: { ImageId: 'ami-12345678', InstanceType: 't3.micro' },
      }),
    );
    await aws.autoScaling.send(
      new CreateAutoScalingGroupCommand({
        AutoScalingGroupName: group,
        MinSize: 0,
        MaxSize: 5,
        DesiredCapacity: size,
        LaunchTemplate: { LaunchTemplateName: lt },
        VPCZoneIdentifier: subnetId,
        Tags: [...groupTags],
      }),
    );
  }
  const tg = async (name: string, port: number) =>
    (
      await aws.elbv2.send(
        new CreateTargetGroupCommand({
          Name: name,
          Protocol: 'TCP',
          Port: port,
          VpcId: vpcId,
          TargetType: 'instance',
          Tags: [{ Key: CLUSTER_TAG, Value: cluster }],
        }),
      )
    ).TargetGroups![0]!.TargetGroupArn!;
  const apiTargetGroupArn = await tg(names.apiTargetGroup, 6443);
  const serviceTargetGroupArns = [await tg(names.serviceTargetGroup(80), 30080)];

  const config: ReconcilerConfig = {
    cluster,
    region,
    zones: [zone],
    expectedMasters: 3,
    masterGroupName: names.masterGroup,
    workerGroupName: names.workerGroup,
    apiTargetGroupArn,
    serviceTargetGroupArns,
    etcdScheme: 'http',
    etcdClientPort: 2379,
    etcdPeerPort: 2380,
    memberUnhealthyMs: 120_000,
    bootTimeoutMs: 900_000,
    learnerMaxLag: 100,
  };
  await aws.ssm.send(
    new PutParameterCommand({
      Name: configParameter(cluster),
      Value: JSON.stringify(config),
      Type: 'String',
    }),
  );
  const instancesOf = async (group: string) =>
    (
      await aws.autoScaling.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [group] }))
    ).AutoScalingGroups![0]!.Instances!.map((i) => i.InstanceId!);

  // What moto lacks: lifecycle hooks.
  const pendingHooks = new Map<string, 'Pending:Wait' | 'Terminating:Wait'>();
  const completions: CompleteLifecycleActionCommandInput[] = [];
  const heartbeats: RecordLifecycleActionHeartbeatCommandInput[] = [];
  const autoScaling = new AutoScalingClient({ region, endpoint, credentials: creds, maxAttempts: 1 });
  const asMock = mockClient(autoScaling);
  const noActive = (id: string) =>
    Object.assign(new Error(`No active Lifecycle Action found with instance ID ${id}`), {
      name: 'ValidationError',
    });
  asMock.on(DescribeAutoScalingGroupsCommand).callsFake(async (input) => {
    const out = await aws.autoScaling.send(new DescribeAutoScalingGroupsCommand(input));
    for (const g of out.AutoScalingGroups ?? []) {
      for (const i of g.Instances ?? []) {
        const hook = pendingHooks.get(i.InstanceId!);
        if (hook) i.LifecycleState = hook;
      }
    }
    return out;
  });
  // The reconciler lists the warm pool's instances too (moto answers DescribeWarmPool).
  asMock
    .on(DescribeWarmPoolCommand)
    .callsFake((input) => aws.autoScaling.send(new DescribeWarmPoolCommand(input)));
  asMock
    .on(SetInstanceHealthCommand)
    .callsFake((input) => aws.autoScaling.send(new SetInstanceHealthCommand(input)));
  asMock.on(CompleteLifecycleActionCommand).callsFake(async (input: CompleteLifecycleActionCommandInput) => {
    const id = input.InstanceId!;
    const hook = pendingHooks.get(id);
    if (!hook) throw noActive(id);
    pendingHooks.delete(id);
    completions.push(input);
    if (hook === 'Terminating:Wait') {
      await aws.autoScaling.send(
        new TerminateInstanceInAutoScalingGroupCommand({
          InstanceId: id,
          ShouldDecrementDesiredCapacity: true,
        }),
      );
    }
    return {};
  });
  asMock
    .on(RecordLifecycleActionHeartbeatCommand)
    .callsFake(async (input: RecordLifecycleActionHeartbeatCommandInput) => {
      if (!pendingHooks.has(input.InstanceId!)) throw noActive(input.InstanceId!);
      heartbeats.push(input);
      return {};
    });

  // Draining targets (moto drops a deregistered target at once).
  const keepDraining = new Set<string>();
  const drained = new Map<string, Set<string>>();
  const elbv2 = new ElasticLoadBalancingV2Client({ region, endpoint, credentials: creds, maxAttempts: 1 });
  const lbMock = mockClient(elbv2);
  lbMock.on(DescribeTargetHealthCommand).callsFake(async (input) => {
    const out = await aws.elbv2.send(new DescribeTargetHealthCommand(input));
    for (const id of drained.get(input.TargetGroupArn!) ?? []) {
      out.TargetHealthDescriptions = [
        ...(out.TargetHealthDescriptions ?? []),
        { Target: { Id: id, Port: 30080 }, TargetHealth: { State: 'draining' } },
      ];
    }
    return out;
  });
  lbMock.on(RegisterTargetsCommand).callsFake((input) => aws.elbv2.send(new RegisterTargetsCommand(input)));
  lbMock.on(DeregisterTargetsCommand).callsFake(async (input) => {
    for (const t of input.Targets ?? []) {
      if (keepDraining.has(t.Id!)) {
        drained.set(input.TargetGroupArn!, new Set([...(drained.get(input.TargetGroupArn!) ?? []), t.Id!]));
      }
    }
    return aws.elbv2.send(new DeregisterTargetsCommand(input));
  });
  lbMock
    .on(DescribeTargetGroupAttributesCommand)
    .callsFake((input) => aws.elbv2.send(new DescribeTargetGroupAttributesCommand(input)));

  return {
    aws,
    config,
    masters: await instancesOf(names.masterGroup),
    workers: await instancesOf(names.workerGroup),
    autoScaling,
    elbv2,
    pendingHooks,
    completions,
    heartbeats,
    keepDraining,
    untaggedGroup: `${cluster}-other`,
    ssmWriters,
  };
}

export async function registerTargets(cloud: LambdaCloud, targetGroupArn: string, ids: string[]) {
  await cloud.aws.elbv2.send(
    new RegisterTargetsCommand({ TargetGroupArn: targetGroupArn, Targets: ids.map((Id) => ({ Id })) }),
  );
}

export async function targetsOf(cloud: LambdaCloud, targetGroupArn: string): Promise<string[]> {
  const r = await cloud.aws.elbv2.send(new DescribeTargetHealthCommand({ TargetGroupArn: targetGroupArn }));
  return (r.TargetHealthDescriptions ?? []).map((d) => d.Target!.Id!).sort();
}
