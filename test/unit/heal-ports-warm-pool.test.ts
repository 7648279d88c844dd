/**
 * The reconciler's FleetPort over AWS lists the masters' warm pool instances: DescribeAutoScalingGroups
 * leaves them out, DescribeWarmPool has them (Warmed:* states). Without them a pool instance whose
 * prepare failed would never be abandoned by the reconciler (only by the hook's timeout). A role that
 * may not call DescribeWarmPool (a cluster stack from before the pool) costs a warning, not the pass.
 */
import {
  AutoScalingClient,
  DescribeAutoScalingGroupsCommand,
  DescribeWarmPoolCommand,
} from '@aws-sdk/client-auto-scaling';
import { DescribeInstancesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { describe, expect, it } from 'vitest';
import { createFleetPort } from '../../src/adapters/aws/heal-ports.js';
import { observe } from '../../src/heal/observe.js';
import { settleWorkerHooks } from '../../src/heal/worker-hooks.js';
import { fakeWorld, testConfig } from '../support/fake-ports.js';

const GROUP = {
  AutoScalingGroupName: 'c-masters',
  DesiredCapacity: 1,
  MinSize: 1,
  MaxSize: 1,
  AvailabilityZones: ['eu-west-1a'],
  DefaultCooldown: 300,
  HealthCheckType: 'EC2',
  CreatedTime: new Date(0),
  Instances: [
    {
      InstanceId: 'i-00000000000000001',
      AvailabilityZone: 'eu-west-1a',
      LifecycleState: 'InService' as const,
      HealthStatus: 'Healthy',
      ProtectedFromScaleIn: false,
    },
  ],
};
const denied = () =>
  Object.assign(
    new Error(
      'User: arn:aws:sts::1:assumed-role/c-reconciler/x is not authorized to perform: autoscaling:DescribeWarmPool',
    ),
    { name: 'AccessDenied', $metadata: { httpStatusCode: 403 } },
  );

describe('FleetPort.describeGroup (AWS)', () => {
  it('lists the warm pool instances (DescribeWarmPool, every page) beside the group instances', async () => {
    const autoScaling = new AutoScalingClient({ region: 'eu-west-1' });
    const ec2 = new EC2Client({ region: 'eu-west-1' });
    const as = mockClient(autoScaling);
    const e = mockClient(ec2);
    as.on(DescribeAutoScalingGroupsCommand).resolves({ AutoScalingGroups: [GROUP] });
    as.on(DescribeWarmPoolCommand, { AutoScalingGroupName: 'c-masters', NextToken: undefined })
      .resolves({
        Instances: [
          {
            InstanceId: 'i-00000000000000002',
            AvailabilityZone: 'eu-west-1b',
            LifecycleState: 'Warmed:Pending:Wait',
            HealthStatus: 'Healthy',
            ProtectedFromScaleIn: false,
          },
        ],
        NextToken: 'page2',
      })
      .on(DescribeWarmPoolCommand, { AutoScalingGroupName: 'c-masters', NextToken: 'page2' })
      .resolves({
        Instances: [
          {
            InstanceId: 'i-00000000000000003',
            AvailabilityZone: 'eu-west-1c',
            LifecycleState: 'Warmed:Stopped',
            HealthStatus: 'Healthy',
            ProtectedFromScaleIn: false,
          },
        ],
      });
    e.on(DescribeInstancesCommand).callsFake(async (input: { InstanceIds?: string[] }) => ({
      Reservations: [
        {
          Instances: (input.InstanceIds ?? []).map((id, k) => ({
            InstanceId: id,
            PrivateIpAddress: `10.0.${k}.9`,
            LaunchTime: new Date(1_000),
          })),
        },
      ],
    }));
    const port = createFleetPort(autoScaling, ec2, () => 'hook');
    const g = await port.describeGroup('c-masters');
    expect(g.instances.map((i) => [i.instanceId, i.lifecycleState, i.zone])).toEqual([
      ['i-00000000000000001', 'InService', 'eu-west-1a'],
      ['i-00000000000000002', 'Warmed:Pending:Wait', 'eu-west-1b'],
      ['i-00000000000000003', 'Warmed:Stopped', 'eu-west-1c'],
    ]);
    expect(g.instances.every((i) => i.privateIp !== undefined && i.launchTime === 1_000)).toBe(true);
    // MaxRecords: DescribeWarmPool's maximum is 50 (a larger value is a ValidationError)
    expect(as.commandCalls(DescribeWarmPoolCommand).map((c) => c.args[0].input.MaxRecords)).toEqual([50, 50]);
  });

  it("reads every page of DescribeInstances for the pool's instances, as for the group's", async () => {
    const autoScaling = new AutoScalingClient({ region: 'eu-west-1' });
    const ec2 = new EC2Client({ region: 'eu-west-1' });
    const as = mockClient(autoScaling);
    as.on(DescribeAutoScalingGroupsCommand).resolves({ AutoScalingGroups: [GROUP] });
    as.on(DescribeWarmPoolCommand).resolves({
      Instances: ['2', '3'].map((n) => ({
        InstanceId: `i-0000000000000000${n}`,
        AvailabilityZone: 'eu-west-1b',
        LifecycleState: 'Warmed:Stopped' as const,
        HealthStatus: 'Healthy',
        ProtectedFromScaleIn: false,
      })),
    });
    // One instance a page: EC2 may split any DescribeInstances answer.
    mockClient(ec2)
      .on(DescribeInstancesCommand)
      .callsFake(async (input: { InstanceIds?: string[]; NextToken?: string }) => {
        const ids = input.InstanceIds ?? [];
        const at = Number(input.NextToken ?? 0);
        return {
          Reservations: [
            {
              Instances: [
                { InstanceId: ids[at], PrivateIpAddress: `10.0.0.${at}`, LaunchTime: new Date(1_000) },
              ],
            },
          ],
          ...(at + 1 < ids.length ? { NextToken: String(at + 1) } : {}),
        };
      });
    const g = await createFleetPort(autoScaling, ec2, () => 'hook').describeGroup('c-masters');
    expect(g.instances.map((i) => [i.instanceId, i.privateIp])).toEqual([
      ['i-00000000000000001', '10.0.0.0'],
      ['i-00000000000000002', '10.0.0.0'],
      ['i-00000000000000003', '10.0.0.1'],
    ]);
  });

  it('DescribeWarmPool denied (a cluster stack without it): the group instances and a warning, not a failed pass', async () => {
    const autoScaling = new AutoScalingClient({ region: 'eu-west-1' });
    const ec2 = new EC2Client({ region: 'eu-west-1' });
    const as = mockClient(autoScaling);
    mockClient(ec2).on(DescribeInstancesCommand).resolves({ Reservations: [] });
    as.on(DescribeAutoScalingGroupsCommand).resolves({ AutoScalingGroups: [GROUP] });
    as.on(DescribeWarmPoolCommand).rejects(denied());
    const port = createFleetPort(autoScaling, ec2, () => 'hook');
    const g = await port.describeGroup('c-masters');
    expect(g.instances.map((i) => i.instanceId)).toEqual(['i-00000000000000001']);
    expect(g.warnings).toEqual([
      expect.stringMatching(
        /^warm pool of c-masters not read .*autoscaling:DescribeWarmPool is denied; update the cluster stack/,
      ),
    ]);
    // any other failure still fails the pass
    as.on(DescribeWarmPoolCommand).rejects(Object.assign(new Error('boom'), { name: 'InternalFailure' }));
    await expect(port.describeGroup('c-masters')).rejects.toThrow('boom');
  });

  it("the fleet's warning reaches the pass's log (observe's ignoredSignals, the Lambda's problems)", async () => {
    const w = fakeWorld(3);
    const describeGroup = w.ports.fleet.describeGroup.bind(w.ports.fleet);
    w.ports.fleet.describeGroup = async (name) => ({
      ...(await describeGroup(name)),
      warnings: ['pool not read'],
    });
    const { ignoredSignals } = await observe(w.ports, testConfig());
    expect(ignoredSignals).toEqual(['pool not read']);
  });
});

describe('a pass reads the warm pool only when the configuration says the group may have one', () => {
  /** A reconcile pass's observation with the fleet over mocked AWS clients; its DescribeWarmPool calls. */
  async function warmPoolCalls(config: ReturnType<typeof testConfig>): Promise<number> {
    const autoScaling = new AutoScalingClient({ region: 'eu-west-1' });
    const ec2 = new EC2Client({ region: 'eu-west-1' });
    const as = mockClient(autoScaling);
    mockClient(ec2).on(DescribeInstancesCommand).resolves({ Reservations: [] });
    as.on(DescribeAutoScalingGroupsCommand).resolves({
      AutoScalingGroups: [{ ...GROUP, AutoScalingGroupName: config.masterGroupName }],
    });
    as.on(DescribeWarmPoolCommand).resolves({ Instances: [] });
    const w = fakeWorld(3);
    w.ports.fleet.describeGroup = createFleetPort(autoScaling, ec2, () => 'hook').describeGroup;
    await observe(w.ports, config);
    return as.commandCalls(DescribeWarmPoolCommand).length;
  }

  it('masterWarmPool false (masters.warmPool.size 0): no DescribeWarmPool call', async () => {
    expect(await warmPoolCalls(testConfig({ masterWarmPool: false }))).toBe(0);
  });

  it('masterWarmPool true: one DescribeWarmPool call', async () => {
    expect(await warmPoolCalls(testConfig({ masterWarmPool: true }))).toBe(1);
  });

  it('a configuration from an older tripod (no masterWarmPool field) still reads the pool', async () => {
    const { masterWarmPool: _, ...old } = testConfig();
    expect('masterWarmPool' in old).toBe(false);
    expect(await warmPoolCalls(old)).toBe(1);
  });
});

describe('worker hooks read no warm pool', () => {
  it('settling the worker group (tripod puts no pool on it) makes no DescribeWarmPool call', async () => {
    const autoScaling = new AutoScalingClient({ region: 'eu-west-1' });
    const ec2 = new EC2Client({ region: 'eu-west-1' });
    const as = mockClient(autoScaling);
    mockClient(ec2).on(DescribeInstancesCommand).resolves({ Reservations: [] });
    as.on(DescribeAutoScalingGroupsCommand).resolves({
      AutoScalingGroups: [{ ...GROUP, AutoScalingGroupName: 'c-workers' }],
    });
    as.on(DescribeWarmPoolCommand).resolves({ Instances: [] });
    const w = fakeWorld(1);
    const outcomes = await settleWorkerHooks(
      {
        fleet: createFleetPort(autoScaling, ec2, () => 'hook'),
        loadBalancer: {
          describeTargets: (arn) => w.ports.loadBalancer.describeTargets(arn),
          deregisterTarget: (arn, id) => w.ports.loadBalancer.deregisterTarget(arn, id),
          deregistrationDelaySeconds: async () => 0,
        },
        parameters: w.ports.parameters,
        instanceStates: async (ids) => Object.fromEntries(ids.map((id) => [id, 'running'])),
        clock: w.ports.clock,
      },
      'c',
      'c-workers',
      [],
    );
    expect(outcomes).toEqual([]);
    expect(as.commandCalls(DescribeAutoScalingGroupsCommand)).toHaveLength(1);
    expect(as.commandCalls(DescribeWarmPoolCommand)).toHaveLength(0);
  });
});
