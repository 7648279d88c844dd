/**
 * The upgrade's AWS calls. Instance refresh (which moto lacks) through aws-sdk-client-mock; the
 * group, its launch template versions and the SSM record against moto.
 */
import {
  AutoScalingClient,
  CancelInstanceRefreshCommand,
  CreateAutoScalingGroupCommand,
  DescribeAutoScalingGroupsCommand,
  DescribeInstanceRefreshesCommand,
  RollbackInstanceRefreshCommand,
  StartInstanceRefreshCommand,
} from '@aws-sdk/client-auto-scaling';
import {
  CreateLaunchTemplateCommand,
  CreateLaunchTemplateVersionCommand,
  CreateSubnetCommand,
  CreateVpcCommand,
  DescribeInstancesCommand,
  DescribeLaunchTemplatesCommand,
  EC2Client,
  ModifyLaunchTemplateCommand,
} from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { createAwsClients } from '../../src/adapters/aws/clients.js';
import {
  cancelInstanceRefresh,
  createUpgradePort,
  describeInstanceRefreshes,
  rollbackInstanceRefresh,
} from '../../src/adapters/aws/instance-refresh.js';
import { masterRefreshPreferences, workerRefreshPreferences } from '../../src/upgrade/plan.js';
import { mockedAwsClients } from '../support/mocked-aws.js';

const creds = { accessKeyId: 'a', secretAccessKey: 'b' };

describe('instance refresh calls (aws-sdk-client-mock)', () => {
  const asMock = mockClient(AutoScalingClient);
  const ec2Mock = mockClient(EC2Client);
  afterEach(() => {
    asMock.reset();
    ec2Mock.reset();
  });
  afterAll(() => {
    asMock.restore();
    ec2Mock.restore();
  });
  const aws = () => mockedAwsClients();
  const group = (ltVersion: string) => ({
    AutoScalingGroups: [
      {
        AutoScalingGroupName: 'demo-masters',
        MinSize: 3,
        MaxSize: 3,
        DesiredCapacity: 3,
        DefaultCooldown: 300,
        AvailabilityZones: [],
        HealthCheckType: 'EC2',
        CreatedTime: new Date(),
        LaunchTemplate: { LaunchTemplateId: 'lt-1', Version: ltVersion },
        Tags: [{ Key: 'tripod:kubernetes-version', Value: '1.31.4' }],
        Instances: [
          {
            InstanceId: 'i-a',
            AvailabilityZone: 'eu-west-1a',
            LifecycleState: 'InService' as const,
            HealthStatus: 'Healthy',
            ProtectedFromScaleIn: false,
            LaunchTemplate: { LaunchTemplateId: 'lt-1', Version: '2' },
          },
        ],
      },
    ],
  });

  it('starts the master refresh surge-first on the group own template ($Default): no desired configuration', async () => {
    asMock.on(DescribeAutoScalingGroupsCommand).resolves(group('$Default'));
    ec2Mock
      .on(DescribeLaunchTemplatesCommand)
      .resolves({ LaunchTemplates: [{ DefaultVersionNumber: 2, LatestVersionNumber: 2 }] });
    // The group reports every instance on the current version; EC2's launch template tag knows better.
    ec2Mock.on(DescribeInstancesCommand).resolves({
      Reservations: [
        { Instances: [{ InstanceId: 'i-a', Tags: [{ Key: 'aws:ec2launchtemplate:version', Value: '1' }] }] },
      ],
    });
    asMock.on(StartInstanceRefreshCommand).resolves({ InstanceRefreshId: 'r-1' });
    const port = createUpgradePort(aws());
    const g = await port.describeGroup('demo-masters');
    expect(g).toMatchObject({ name: 'demo-masters', desired: 3, targetVersion: '2' });
    expect(g?.instances[0]).toMatchObject({ instanceId: 'i-a', version: '1', zone: 'eu-west-1a' });
    expect(await port.runningKubernetesVersion('demo', 'demo-masters')).toBe('1.31.4');
    expect(await port.startRefresh('demo-masters', '2', masterRefreshPreferences(3))).toBe('r-1');
    expect(asMock.commandCalls(StartInstanceRefreshCommand)[0]!.args[0].input).toEqual({
      AutoScalingGroupName: 'demo-masters',
      Strategy: 'Rolling',
      Preferences: {
        MinHealthyPercentage: 100,
        MaxHealthyPercentage: 134,
        SkipMatching: true,
        InstanceWarmup: 0,
        CheckpointPercentages: [33, 67, 100],
        CheckpointDelay: 0,
        StandbyInstances: 'Terminate',
        ScaleInProtectedInstances: 'Refresh',
      },
    });
  });

  it('a refresh back to an older version names it (desired configuration), workers in batches', async () => {
    asMock.on(DescribeAutoScalingGroupsCommand).resolves(group('$Default'));
    ec2Mock.on(DescribeLaunchTemplatesCommand).resolves({ LaunchTemplates: [{ DefaultVersionNumber: 2 }] });
    ec2Mock.on(DescribeInstancesCommand).resolves({});
    asMock.on(StartInstanceRefreshCommand).resolves({ InstanceRefreshId: 'r-2' });
    const port = createUpgradePort(aws());
    await port.startRefresh('demo-masters', '1', workerRefreshPreferences(90));
    const input = asMock.commandCalls(StartInstanceRefreshCommand)[0]!.args[0].input;
    expect(input.DesiredConfiguration).toEqual({
      LaunchTemplate: { LaunchTemplateId: 'lt-1', Version: '1' },
    });
    expect(input.Preferences).toMatchObject({
      MinHealthyPercentage: 90,
      MaxHealthyPercentage: 100,
      SkipMatching: true,
    });
  });

  it('pin names the target version even on the group own template', async () => {
    asMock.on(DescribeAutoScalingGroupsCommand).resolves(group('$Default'));
    ec2Mock.on(DescribeLaunchTemplatesCommand).resolves({ LaunchTemplates: [{ DefaultVersionNumber: 2 }] });
    ec2Mock.on(DescribeInstancesCommand).resolves({});
    asMock.on(StartInstanceRefreshCommand).resolves({ InstanceRefreshId: 'r-3' });
    const port = createUpgradePort(aws());
    await port.startRefresh('demo-masters', '2', masterRefreshPreferences(3), { pin: true });
    expect(asMock.commandCalls(StartInstanceRefreshCommand)[0]!.args[0].input.DesiredConfiguration).toEqual({
      LaunchTemplate: { LaunchTemplateId: 'lt-1', Version: '2' },
    });
  });

  it('describes refreshes newest first, with status, progress and desired version', async () => {
    asMock.on(DescribeInstanceRefreshesCommand).resolves({
      InstanceRefreshes: [
        { InstanceRefreshId: 'old', Status: 'Cancelled', StartTime: new Date(1000) },
        {
          InstanceRefreshId: 'new',
          Status: 'InProgress',
          StatusReason: 'Waiting for instances to warm up',
          PercentageComplete: 33,
          InstancesToUpdate: 2,
          StartTime: new Date(5000),
          DesiredConfiguration: { LaunchTemplate: { LaunchTemplateId: 'lt-1', Version: '2' } },
        },
      ],
    });
    const r = await describeInstanceRefreshes(aws(), 'demo-masters');
    expect(r.map((x) => x.id)).toEqual(['new', 'old']);
    expect(r[0]).toEqual({
      id: 'new',
      status: 'InProgress',
      statusReason: 'Waiting for instances to warm up',
      percentageComplete: 33,
      instancesToUpdate: 2,
      desiredVersion: '2',
      startTime: 5000,
    });
    expect(asMock.commandCalls(DescribeInstanceRefreshesCommand)[0]!.args[0].input).toEqual({
      AutoScalingGroupName: 'demo-masters',
      MaxRecords: 10,
    });
  });

  it('cancels and rolls back by group name', async () => {
    asMock.on(CancelInstanceRefreshCommand).resolves({ InstanceRefreshId: 'r' });
    asMock.on(RollbackInstanceRefreshCommand).resolves({ InstanceRefreshId: 'r' });
    await cancelInstanceRefresh(aws(), 'g1');
    await rollbackInstanceRefresh(aws(), 'g2');
    expect(asMock.commandCalls(CancelInstanceRefreshCommand)[0]!.args[0].input).toEqual({
      AutoScalingGroupName: 'g1',
    });
    expect(asMock.commandCalls(RollbackInstanceRefreshCommand)[0]!.args[0].input).toEqual({
      AutoScalingGroupName: 'g2',
    });
  });
});

describe('the upgrade port against moto', () => {
  const endpoint = inject('motoEndpoint');
  const region = 'ap-southeast-4';
  const aws = createAwsClients({ region, endpoint, maxAttempts: 1, credentials: creds });
  const port = createUpgradePort(aws);
  beforeAll(async () => {
    const vpc = await aws.ec2.send(new CreateVpcCommand({ CidrBlock: '10.77.0.0/16' }));
    const subnet = await aws.ec2.send(
      new CreateSubnetCommand({
        VpcId: vpc.Vpc!.VpcId!,
        CidrBlock: '10.77.1.0/24',
        AvailabilityZone: `${region}a`,
      }),
    );
    const data = { ImageId: 'ami-12c6146b', InstanceType: 't3.micro' as const };
    const lt = await aws.ec2.send(
      new CreateLaunchTemplateCommand({ LaunchTemplateName: 'upgm-masters', LaunchTemplateData: data }),
    );
    const id = lt.LaunchTemplate!.LaunchTemplateId!;
    await aws.autoScaling.send(
      new CreateAutoScalingGroupCommand({
        AutoScalingGroupName: 'upgm-masters',
        MinSize: 3,
        MaxSize: 3,
        DesiredCapacity: 3,
        VPCZoneIdentifier: subnet.Subnet!.SubnetId!,
        LaunchTemplate: { LaunchTemplateId: id, Version: '$Default' },
      }),
    );
    // apply: a new version becomes the default.
    await aws.ec2.send(
      new CreateLaunchTemplateVersionCommand({
        LaunchTemplateId: id,
        LaunchTemplateData: { ...data, InstanceType: 't3.small' },
      }),
    );
    await aws.ec2.send(new ModifyLaunchTemplateCommand({ LaunchTemplateId: id, DefaultVersion: '2' }));
  });
  afterAll(() => aws.destroy());

  it('sees the target version 2 and instances launched from version 1', async () => {
    const g = await port.describeGroup('upgm-masters');
    expect(g?.targetVersion).toBe('2');
    expect(g?.instances).toHaveLength(3);
    for (const i of g?.instances ?? []) expect(i.version).toBe('1');
  });

  it('a missing group is undefined; the record round-trips through SSM', async () => {
    expect(await port.describeGroup('upgm-nope')).toBeUndefined();
    expect(await port.readRecord('upgm')).toEqual({});
    await port.writeRecord('upgm', { kubernetesVersion: '1.32.0' });
    expect(await port.readRecord('upgm')).toEqual({ kubernetesVersion: '1.32.0' });
    expect(await port.readStatus('upgm')).toBeUndefined();
  });
});
