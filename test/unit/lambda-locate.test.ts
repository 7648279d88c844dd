/**
 * Which cluster an event concerns costs the handler as few AWS calls as it can: a lifecycle event
 * reads the group's tag (one DescribeAutoScalingGroups), not its instances; the pass reads those.
 */
import { AutoScalingClient, DescribeAutoScalingGroupsCommand } from '@aws-sdk/client-auto-scaling';
import { DescribeInstancesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { describe, expect, it } from 'vitest';
import { locateCluster } from '../../src/adapters/aws/reconciler-io.js';
import { CLUSTER_TAG } from '../../src/contract/protocol.js';
import { parseTrigger } from '../../src/heal/events.js';
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
