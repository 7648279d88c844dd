/**
 * What the reconciler Lambda calls AWS for, counted (a pass is the hot path): which cluster a
 * lifecycle event concerns is the group's tag (one DescribeAutoScalingGroups), not its instances
 * (the pass reads those); the launching workers' EC2 states are one DescribeInstances, not one each.
 */
import { AutoScalingClient, DescribeAutoScalingGroupsCommand } from '@aws-sdk/client-auto-scaling';
import { DescribeInstancesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { describe, expect, it } from 'vitest';
import { createFleetPort } from '../../src/adapters/aws/heal-ports.js';
import { createWorkerHookPort, locateCluster } from '../../src/adapters/aws/reconciler-io.js';
import { CLUSTER_TAG } from '../../src/contract/protocol.js';
import { parseTrigger } from '../../src/heal/events.js';
import { settleWorkerHooks } from '../../src/heal/worker-hooks.js';
import { fakeWorld } from '../support/fake-ports.js';
import { lifecycleEvent } from '../support/lambda-events.js';

const member = (n: number) => ({
  InstanceId: `i-0000000000000000${n}`,
  AvailabilityZone: 'eu-west-1a',
  LifecycleState: 'InService' as const,
  HealthStatus: 'Healthy',
  ProtectedFromScaleIn: false,
});

function clients(tags: Array<{ Key: string; Value: string }>) {
  const autoScaling = new AutoScalingClient({ region: 'eu-west-1' });
  const ec2 = new EC2Client({ region: 'eu-west-1' });
  const as = mockClient(autoScaling);
  const e = mockClient(ec2);
  e.on(DescribeInstancesCommand).resolves({ Reservations: [] });
  as.on(DescribeAutoScalingGroupsCommand).resolves({
    AutoScalingGroups: [
      {
        AutoScalingGroupName: 'c-masters',
        DesiredCapacity: 3,
        MinSize: 3,
        MaxSize: 4,
        AvailabilityZones: ['eu-west-1a'],
        DefaultCooldown: 300,
        HealthCheckType: 'EC2',
        CreatedTime: new Date(0),
        Instances: [member(1), member(2), member(3)],
        Tags: tags.map((t) => ({ ...t, ResourceId: 'c-masters', ResourceType: 'auto-scaling-group' })),
      },
    ],
  });
  return { autoScaling, ec2, as, e };
}

const trigger = () => {
  const t = parseTrigger(lifecycleEvent('launching', 'c-masters', 'i-00000000000000001'));
  if (t.kind !== 'lifecycle') throw new Error(`expected a lifecycle trigger, got ${t.kind}`);
  return t;
};

describe('locateCluster', () => {
  it('a lifecycle event: the cluster from the group tag, in one DescribeAutoScalingGroups and no EC2 call', async () => {
    const c = clients([{ Key: CLUSTER_TAG, Value: 'c' }]);
    expect(await locateCluster(c, trigger(), 'c')).toEqual({ ok: true, cluster: 'c', group: 'c-masters' });
    expect(c.as.commandCalls(DescribeAutoScalingGroupsCommand)).toHaveLength(1);
    expect(c.e.commandCalls(DescribeInstancesCommand)).toHaveLength(0);
  });

  it('a group without the cluster tag is not ours', async () => {
    const c = clients([{ Key: 'Name', Value: 'x' }]);
    expect(await locateCluster(c, trigger(), 'c')).toMatchObject({ ok: false, why: /no tripod:cluster tag/ });
  });
});

describe('worker hooks over AWS', () => {
  it('the EC2 states of launching workers: one DescribeInstances by instance-id filter, whatever their number', async () => {
    const autoScaling = new AutoScalingClient({ region: 'eu-west-1' });
    const ec2 = new EC2Client({ region: 'eu-west-1' });
    const pending = (n: number) => ({ ...member(n), LifecycleState: 'Pending:Wait' as const });
    mockClient(autoScaling)
      .on(DescribeAutoScalingGroupsCommand)
      .resolves({
        AutoScalingGroups: [
          {
            AutoScalingGroupName: 'c-workers',
            DesiredCapacity: 3,
            MinSize: 0,
            MaxSize: 9,
            AvailabilityZones: ['eu-west-1a'],
            DefaultCooldown: 300,
            HealthCheckType: 'EC2',
            CreatedTime: new Date(0),
            Instances: [pending(1), pending(2), pending(3)],
          },
        ],
      });
    const e = mockClient(ec2);
    // i-...3 is not known to EC2 yet: filtered, it is only absent (by InstanceIds the call would fail).
    e.on(DescribeInstancesCommand).resolves({
      Reservations: [
        {
          Instances: [
            { InstanceId: 'i-00000000000000001', State: { Name: 'running', Code: 16 } },
            { InstanceId: 'i-00000000000000002', State: { Name: 'pending', Code: 0 } },
          ],
        },
      ],
    });
    const w = fakeWorld(1);
    const port = createWorkerHookPort(
      { autoScaling, ec2 },
      {
        fleet: {
          ...createFleetPort(autoScaling, ec2, () => 'hook'),
          completeLifecycleAction: async () => {},
          recordLifecycleHeartbeat: async () => {},
        },
        loadBalancer: { ...w.ports.loadBalancer, deregistrationDelaySeconds: async () => 0 },
        parameters: w.ports.parameters,
      },
      () => 0,
    );
    const outcomes = await settleWorkerHooks(port, 'c', 'c-workers', []);
    expect(outcomes.map((o) => o.result)).toEqual(['continued', 'heartbeat', 'heartbeat']);
    const reads = e.commandCalls(DescribeInstancesCommand).map((c) => c.args[0].input);
    // One read of the three states; none for the group (its lifecycle states are Auto Scaling's).
    expect(reads).toHaveLength(1);
    expect(reads[0]).toMatchObject({
      Filters: [
        {
          Name: 'instance-id',
          Values: ['i-00000000000000001', 'i-00000000000000002', 'i-00000000000000003'],
        },
      ],
    });
  });
});
