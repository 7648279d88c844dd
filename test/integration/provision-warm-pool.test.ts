/**
 * `masters.warmPool` (issue 18): the spec field and its refusals, and the master group's warm pool
 * against moto: created after the group, a no-op plan that reads the pool in one call, a change of
 * size and state, a capacity someone else set put back, and removal with `size: 0`.
 */
import { DescribeWarmPoolCommand, PutWarmPoolCommand } from '@aws-sdk/client-auto-scaling';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { AwsClients } from '../../src/adapters/aws/clients.js';
import { formatProblem, parseSpec } from '../../src/cluster-spec/load.js';
import { resourceNames } from '../../src/contract/names.js';
import { applyPlan, destroy } from '../../src/provision/apply.js';
import { desiredCluster } from '../../src/provision/desired.js';
import { planCluster } from '../../src/provision/plan.js';
import { changed, clients, ensureReconcilerRole, threeZoneSpec } from '../support/provision-support.js';
import { minimalSpec } from '../support/spec-text.js';

const MINIMAL = `${minimalSpec({ name: 'wp' })}masters:
  instanceType: m6i.large
`;
const problems = (extra: string) => {
  const r = parseSpec(MINIMAL + extra, 'cluster.yaml');
  return r.ok ? [] : r.problems.map(formatProblem);
};

describe('masters.warmPool in the spec', () => {
  it('defaults to one Stopped instance, not reused on scale-in', () => {
    const r = parseSpec(MINIMAL, 'cluster.yaml');
    expect(r.ok && r.spec.masters.warmPool).toEqual({ size: 1, state: 'Stopped', reuseOnScaleIn: false });
  });

  it('refuses Hibernated, naming file, line and field (tripod configures no hibernation)', () => {
    expect(problems('  warmPool:\n    state: Hibernated\n')).toEqual([
      expect.stringMatching(
        /^cluster\.yaml:12:12 masters\.warmPool\.state: Hibernated is refused: .*Use Stopped/,
      ),
    ]);
  });

  it('refuses reuseOnScaleIn: true (a master returned to the pool would stop with its member voting)', () => {
    expect(problems('  warmPool:\n    reuseOnScaleIn: true\n')).toEqual([
      expect.stringMatching(
        /^cluster\.yaml:12:21 masters\.warmPool\.reuseOnScaleIn: must be false: .*Warmed:Pending:Wait/,
      ),
    ]);
  });

  it('refuses a negative size, an unknown state and an unknown field, each at its line', () => {
    const p = problems('  warmPool:\n    size: -1\n    state: stopped\n    reuse: true\n');
    expect(p).toEqual([
      'cluster.yaml:12:11 masters.warmPool.size: must be 0 (no pool) or more',
      'cluster.yaml:13:12 masters.warmPool.state: must be Stopped or Running (AWS PoolState; Hibernated is refused)',
      expect.stringMatching(/^cluster\.yaml:14:5 masters\.warmPool\.reuse: unknown field "reuse"/),
    ]);
  });

  it('size 0 plans no pool; otherwise one pool resource on the master group', () => {
    const off = parseSpec(`${MINIMAL}  warmPool: { size: 0 }\n`);
    const on = parseSpec(`${MINIMAL}  warmPool: { size: 2, state: Running }\n`);
    if (!off.ok || !on.ok) throw new Error('example specs must parse');
    expect(desiredCluster(off.spec).resources.filter((r) => r.kind === 'warm-pool')).toEqual([]);
    expect(desiredCluster(on.spec).resources.filter((r) => r.kind === 'warm-pool')).toEqual([
      expect.objectContaining({
        key: 'warm-pool/masters',
        value: {
          group: 'asg/masters',
          groupName: resourceNames('wp').masterGroup,
          minSize: 2,
          maxGroupPreparedCapacity: 2,
          poolState: 'Running',
          reuseOnScaleIn: false,
        },
      }),
    ]);
  });
});

const endpoint = inject('motoEndpoint');
const REGION = 'ap-southeast-2';
const spec = threeZoneSpec('pt-warm', REGION, '10.43.0.0/16');
const group = resourceNames(spec.name).masterGroup;

let aws: AwsClients;
const pool = async () =>
  (await aws.autoScaling.send(new DescribeWarmPoolCommand({ AutoScalingGroupName: group })))
    .WarmPoolConfiguration;
const fields = (s: Awaited<ReturnType<typeof planCluster>>) =>
  s.plan.changes.map((c) => [c.action, c.key, c.changes.map((f) => f.field), c.destructive]);

beforeAll(async () => {
  await ensureReconcilerRole(endpoint, spec.name);
  aws = clients(endpoint, REGION);
});
afterAll(async () => {
  await destroy(aws, spec);
  aws.destroy();
});

describe('the master group warm pool against moto', () => {
  it('is created after the master group, from the example spec (1 instance, Stopped)', async () => {
    const state = await planCluster(aws, spec);
    const keys = state.plan.changes.map((c) => c.key);
    expect(keys.indexOf('warm-pool/masters')).toBeGreaterThan(keys.indexOf('asg/masters'));
    await applyPlan(state);
    expect(await pool()).toMatchObject({
      MinSize: 1,
      MaxGroupPreparedCapacity: 1,
      PoolState: 'Stopped',
      InstanceReusePolicy: { ReuseOnScaleIn: false },
    });
  });

  it('a no-op plan reads the pool with one DescribeWarmPool and no extra group read', async () => {
    aws.counter.reset();
    const state = await planCluster(aws, spec);
    expect(state.plan.changes).toEqual([]);
    expect(aws.counter.calls.get('autoscaling:DescribeWarmPool')).toBe(1);
    expect(aws.counter.calls.get('autoscaling:DescribeAutoScalingGroups')).toBe(1);
  });

  it('changes size and state in place, without a destructive flag', async () => {
    const bigger = changed(spec, (s) => {
      s.masters.warmPool = { size: 2, state: 'Running', reuseOnScaleIn: true };
    });
    const state = await planCluster(aws, bigger);
    expect(fields(state)).toEqual([
      [
        'update',
        'warm-pool/masters',
        ['minSize', 'maxGroupPreparedCapacity', 'poolState', 'reuseOnScaleIn'],
        undefined,
      ],
    ]);
    await applyPlan(state);
    expect(await pool()).toMatchObject({
      MinSize: 2,
      MaxGroupPreparedCapacity: 2,
      PoolState: 'Running',
      InstanceReusePolicy: { ReuseOnScaleIn: true },
    });
    expect((await planCluster(aws, bigger)).plan.changes).toEqual([]);
  });

  it('puts back a prepared capacity someone else set (the pool would outgrow `size`)', async () => {
    await aws.autoScaling.send(
      new PutWarmPoolCommand({ AutoScalingGroupName: group, MinSize: 1, MaxGroupPreparedCapacity: 9 }),
    );
    const state = await planCluster(aws, spec);
    expect(fields(state)).toEqual([['update', 'warm-pool/masters', ['maxGroupPreparedCapacity'], undefined]]);
    await applyPlan(state);
    expect((await planCluster(aws, spec)).plan.changes).toEqual([]);
  });

  it('puts a pool left at -1 (the group max: the pool would be max - desired, M - 1 after a restore) back to MinSize', async () => {
    await aws.autoScaling.send(
      new PutWarmPoolCommand({ AutoScalingGroupName: group, MinSize: 1, MaxGroupPreparedCapacity: -1 }),
    );
    const state = await planCluster(aws, spec);
    expect(state.plan.changes.flatMap((c) => c.changes)).toEqual([
      { field: 'maxGroupPreparedCapacity', before: 'group max size', after: 1 },
    ]);
    await applyPlan(state);
    expect(await pool()).toMatchObject({ MinSize: 1, MaxGroupPreparedCapacity: 1 });
    expect((await planCluster(aws, spec)).plan.changes).toEqual([]);
  });

  it('size 0 deletes the pool: not destructive (its instances never joined etcd)', async () => {
    const off = changed(spec, (s) => {
      s.masters.warmPool.size = 0;
    });
    const state = await planCluster(aws, off);
    // The reconciler's configuration says there is no pool any more (it stops reading one), then
    // the pool goes: the configuration is written first, deletes run last.
    expect(fields(state)).toEqual([
      ['update', 'param/config', ['value.masterWarmPool'], undefined],
      ['delete', 'warm-pool/masters', [], undefined],
    ]);
    await applyPlan(state);
    expect(await pool()).toBeUndefined();
    expect((await planCluster(aws, off)).plan.changes).toEqual([]);
  });
});
