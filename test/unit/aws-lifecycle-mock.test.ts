/**
 * Calls moto lacks (CompleteLifecycleAction, RecordLifecycleActionHeartbeat), checked with
 * aws-sdk-client-mock through the real client factory: inputs as AWS expects them, and AWS errors
 * turned into messages that say what to do.
 */
import {
  AutoScalingClient,
  CompleteLifecycleActionCommand,
  RecordLifecycleActionHeartbeatCommand,
} from '@aws-sdk/client-auto-scaling';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { completeLifecycleAction, recordLifecycleHeartbeat } from '../../src/adapters/aws/autoscaling.js';
import { toAwsApiError } from '../../src/adapters/aws/errors.js';
import { mockedAwsClients } from '../support/mocked-aws.js';

const asMock = mockClient(AutoScalingClient);
afterEach(() => asMock.reset());

const aws = () => mockedAwsClients();

describe('lifecycle actions (not in moto)', () => {
  it('completes a lifecycle action by instance id with the given result', async () => {
    asMock.on(CompleteLifecycleActionCommand).resolves({});
    await completeLifecycleAction(aws(), {
      group: 'demo-masters',
      hook: 'tripod-master-launching',
      instanceId: 'i-0123456789abcdef0',
      result: 'ABANDON',
    });
    expect(asMock.commandCalls(CompleteLifecycleActionCommand)[0]!.args[0].input).toEqual({
      AutoScalingGroupName: 'demo-masters',
      LifecycleHookName: 'tripod-master-launching',
      InstanceId: 'i-0123456789abcdef0',
      LifecycleActionResult: 'ABANDON',
    });
  });

  it('records a heartbeat', async () => {
    asMock.on(RecordLifecycleActionHeartbeatCommand).resolves({});
    await recordLifecycleHeartbeat(aws(), { group: 'g', hook: 'h', instanceId: 'i-1' });
    expect(asMock.commandCalls(RecordLifecycleActionHeartbeatCommand)[0]!.args[0].input).toEqual({
      AutoScalingGroupName: 'g',
      LifecycleHookName: 'h',
      InstanceId: 'i-1',
    });
  });

  // aws-sdk-client-mock replaces `send`, so the factory's error middleware does not run here: the
  // mocked AWS error is translated with the same function the middleware calls.
  it('a missing permission names the IAM action to add', async () => {
    const denied = Object.assign(new Error('not authorized'), {
      name: 'AccessDenied',
      $metadata: { httpStatusCode: 403 },
    });
    asMock.on(CompleteLifecycleActionCommand).rejects(denied);
    const input = { group: 'demo-masters', hook: 'h', instanceId: 'i-1', result: 'CONTINUE' as const };
    const e = await completeLifecycleAction(aws(), input).catch((x) => x);
    expect(e.name).toBe('AccessDenied');
    const explained = toAwsApiError(e, 'autoscaling', 'CompleteLifecycleAction', {
      AutoScalingGroupName: input.group,
    });
    expect(explained.message).toMatch(
      /not allowed to call autoscaling:CompleteLifecycleAction \(AutoScalingGroupName=demo-masters\): add the IAM permission "autoscaling:CompleteLifecycleAction"/,
    );
  });
});
