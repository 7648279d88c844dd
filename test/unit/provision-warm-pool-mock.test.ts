/**
 * What moto does not model of a warm pool (it stores PutWarmPool's settings, deletes at once and
 * lists no instances): a pool AWS is still deleting (`PendingDelete`) and `MaxGroupPreparedCapacity`'s
 * "not set" (-1). Checked with aws-sdk-client-mock through the real client factory.
 */
import {
  AutoScalingClient,
  DeleteWarmPoolCommand,
  DescribeWarmPoolCommand,
  PutWarmPoolCommand,
} from '@aws-sdk/client-auto-scaling';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { describeWarmPool, type WarmPool } from '../../src/adapters/aws/autoscaling.js';
import type { AwsClients } from '../../src/adapters/aws/clients.js';
import { type Context, DEFAULT_TIMEOUTS, type Found, Refs } from '../../src/provision/resource.js';
import { type DesiredWarmPool, WARM_POOL_KEY, warmPoolKind } from '../../src/provision/warm-pool.js';
import { mockedAwsClients } from '../support/mocked-aws.js';

const asMock = mockClient(AutoScalingClient);
afterEach(() => asMock.reset());

const aws = () => mockedAwsClients();
const context = (clients: AwsClients, progress: string[]) =>
  ({
    aws: clients,
    cluster: 'demo',
    refs: new Refs(),
    desired: [],
    timeouts: DEFAULT_TIMEOUTS,
    once: (_: string, load: () => Promise<unknown>) => load(),
    progress: (m: string) => progress.push(m),
  }) as unknown as Context;
const desired: DesiredWarmPool = {
  group: 'asg/masters',
  groupName: 'demo-masters',
  minSize: 1,
  maxGroupPreparedCapacity: 1,
  poolState: 'Stopped',
  reuseOnScaleIn: false,
};
const pendingDelete: Found<WarmPool> = {
  key: WARM_POOL_KEY,
  kind: 'warm-pool',
  title: 'warm pool of demo-masters',
  id: 'demo-masters',
  owned: true,
  attrs: { id: 'demo-masters' },
  actual: {
    minSize: 1,
    maxGroupPreparedCapacity: undefined,
    poolState: 'Stopped',
    reuseOnScaleIn: false,
    status: 'PendingDelete',
    instances: 1,
  },
};

describe('warm pool: what moto lacks', () => {
  it('reads -1 (AWS default prepared capacity) as not set, and the PendingDelete status', async () => {
    asMock.on(DescribeWarmPoolCommand).resolves({
      WarmPoolConfiguration: {
        MinSize: 1,
        MaxGroupPreparedCapacity: -1,
        PoolState: 'Stopped',
        Status: 'PendingDelete',
      },
      Instances: [{ InstanceId: 'i-1', LifecycleState: 'Warmed:Terminating' } as never],
    });
    expect(await describeWarmPool(aws(), 'demo-masters')).toEqual(pendingDelete.actual);
    // DescribeWarmPool's MaxRecords is at most 50
    expect(asMock.commandCalls(DescribeWarmPoolCommand)[0]?.args[0].input.MaxRecords).toBe(50);
  });

  it('a pool left at -1 (the group max: the pool would follow max - desired) gets an update to MinSize', () => {
    const active = { ...pendingDelete, actual: { ...pendingDelete.actual, status: undefined } };
    expect(warmPoolKind.compare(desired, active, new Refs()).changes).toEqual([
      { field: 'maxGroupPreparedCapacity', before: 'group max size', after: 1 },
    ]);
    const fixed = { ...active, actual: { ...active.actual, maxGroupPreparedCapacity: 1 } };
    expect(warmPoolKind.compare(desired, fixed, new Refs()).changes).toEqual([]);
  });

  it('a pool being deleted shows in the plan, and apply waits until it is gone before putting it back', async () => {
    expect(
      warmPoolKind.compare(
        desired,
        { ...pendingDelete, actual: { ...pendingDelete.actual, maxGroupPreparedCapacity: 1 } },
        new Refs(),
      ).changes,
    ).toEqual([{ field: 'status', before: 'PendingDelete', after: 'active' }]);
    asMock
      .on(DescribeWarmPoolCommand)
      .resolvesOnce({ WarmPoolConfiguration: { MinSize: 1, Status: 'PendingDelete' } })
      .resolves({});
    asMock.on(PutWarmPoolCommand).resolves({});
    const progress: string[] = [];
    await warmPoolKind.update(
      context(aws(), progress),
      { key: WARM_POOL_KEY, kind: 'warm-pool', title: '', value: desired },
      pendingDelete,
    );
    expect(asMock.commandCalls(DescribeWarmPoolCommand)).toHaveLength(2);
    expect(asMock.commandCalls(PutWarmPoolCommand).map((c) => c.args[0].input)).toEqual([
      {
        AutoScalingGroupName: 'demo-masters',
        MinSize: 1,
        MaxGroupPreparedCapacity: 1,
        PoolState: 'Stopped',
        InstanceReusePolicy: { ReuseOnScaleIn: false },
      },
    ]);
    expect(progress).toEqual([
      'waiting for warm pool of demo-masters to finish deleting before putting it back',
    ]);
  });

  it('deleting a pool already being deleted calls nothing; otherwise DeleteWarmPool with ForceDelete (it would fail while instances are in the pool)', async () => {
    asMock.on(DeleteWarmPoolCommand).resolves({});
    const ctx = context(aws(), []);
    await warmPoolKind.delete(ctx, pendingDelete);
    expect(asMock.commandCalls(DeleteWarmPoolCommand)).toHaveLength(0);
    await warmPoolKind.delete(ctx, {
      ...pendingDelete,
      actual: { ...pendingDelete.actual, status: undefined },
    });
    expect(asMock.commandCalls(DeleteWarmPoolCommand).map((c) => c.args[0].input)).toEqual([
      { AutoScalingGroupName: 'demo-masters', ForceDelete: true },
    ]);
  });
});
