/** Real-shaped EventBridge events for the reconciler's tests (as aws-behaviour.md documents them). */
import { randomUUID } from 'node:crypto';

const base = (source: string, detailType: string, resources: string[] = [], region = 'eu-west-1') => ({
  version: '0',
  id: randomUUID(),
  'detail-type': detailType,
  source,
  account: '123456789012',
  time: '2026-01-01T00:00:00Z',
  region,
  resources,
});

export function lifecycleEvent(
  hook: 'launching' | 'terminating',
  group: string,
  instanceId: string,
  hookName = hook === 'launching' ? 'tripod-master-launching' : 'tripod-master-terminating',
) {
  const launching = hook === 'launching';
  return {
    ...base(
      'aws.autoscaling',
      launching ? 'EC2 Instance-launch Lifecycle Action' : 'EC2 Instance-terminate Lifecycle Action',
      [`arn:aws:autoscaling:eu-west-1:123456789012:autoScalingGroup:1:autoScalingGroupName/${group}`],
    ),
    detail: {
      LifecycleActionToken: randomUUID(),
      AutoScalingGroupName: group,
      LifecycleHookName: hookName,
      EC2InstanceId: instanceId,
      LifecycleTransition: launching
        ? 'autoscaling:EC2_INSTANCE_LAUNCHING'
        : 'autoscaling:EC2_INSTANCE_TERMINATING',
      ...(launching
        ? { Origin: 'EC2', Destination: 'AutoScalingGroup' }
        : { Origin: 'AutoScalingGroup', Destination: 'EC2' }),
    },
  };
}

export const stateChangeEvent = (instanceId: string, state: string) => ({
  ...base('aws.ec2', 'EC2 Instance State-change Notification', [
    `arn:aws:ec2:eu-west-1:123456789012:instance/${instanceId}`,
  ]),
  detail: { 'instance-id': instanceId, state },
});

export const nodeReadyEvent = (cluster: string, instanceId: string) => ({
  ...base('tripod.node', 'Node Ready'),
  detail: { cluster, instanceId, role: 'master' },
});

export const memberStartedEvent = (cluster: string, instanceId: string, memberId?: string) => ({
  ...base('tripod.node', 'Member Started'),
  detail: { cluster, instanceId, ip: '10.0.1.10', zone: 'eu-west-1a', ...(memberId ? { memberId } : {}) },
});

export const scheduledEvent = () => ({
  ...base('aws.events', 'Scheduled Event', ['arn:aws:events:eu-west-1:123456789012:rule/c1-schedule']),
  detail: {},
});
