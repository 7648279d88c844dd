/**
 * The master group's warm pool (`masters.warmPool`): masters booted once and prepared (packages,
 * images), then kept Stopped or Running beside the group, so a replacement starts from one instead of
 * from a bare AMI. Pool instances are not etcd members: the reconciler lets them into the pool and
 * out of it (Warmed:* lifecycle actions).
 *
 * One DescribeWarmPool per plan (the master group's, when tripod owns it): the no-op plan stays flat
 * in the number of instances. The pool holds `size` instances exactly: AWS sizes a pool
 * max(MinSize, MaxGroupPreparedCapacity - desired), the capacity defaulting (-1) to the group's max
 * size, and "only when MaxGroupPreparedCapacity and MinSize are set to the same value does the warm
 * pool have an absolute size" (API_PutWarmPool). With the default, `tripod restore` (min = desired
 * = 1 under max M) would have AWS grow the pool to M - 1 mid-disaster. So tripod puts both at `size`
 * and reads the capacity back: a pool left at -1, or a capacity someone else set, shows in the plan.
 *
 * Removing the pool (`size: 0`) is not destructive: it terminates only prepared instances that
 * never joined etcd and hold no data. tripod deletes it with ForceDelete: without it DeleteWarmPool
 * fails (ScalingActivityInProgress, ResourceInUse) while instances are in the pool, and each one's
 * terminating hook would be waited on.
 */
import {
  deleteWarmPool,
  describeGroups,
  describeWarmPool,
  putWarmPool,
  type WarmPool,
  waitWarmPoolGone,
} from '../adapters/aws/autoscaling.js';
import type { ClusterSpec } from '../cluster-spec/schema.js';
import { resourceNames } from '../contract/names.js';
import { autoScalingGroupKind } from './auto-scaling-group.js';
import { type Comparison, type Context, diff, type Found, isOwned, type ResourceKind } from './resource.js';

export interface DesiredWarmPool {
  /** Key of the group the pool belongs to. */
  group: string;
  /** The group's name (the pool has no name of its own). */
  groupName: string;
  minSize: number;
  /** Equal to minSize: the pool's absolute size (AWS's default would follow the group's max size). */
  maxGroupPreparedCapacity: number;
  poolState: 'Stopped' | 'Running';
  reuseOnScaleIn: boolean;
}

export const WARM_POOL_KEY = 'warm-pool/masters';

/** The master group's pool, or undefined for `size: 0` (no pool). */
export function desiredMasterWarmPool(spec: ClusterSpec): DesiredWarmPool | undefined {
  const w = spec.masters.warmPool;
  if (w.size === 0) return undefined;
  // The schema refuses Hibernated (tripod configures no hibernation).
  if (w.state === 'Hibernated')
    throw new Error('internal: masters.warmPool.state Hibernated passed validation');
  return {
    group: 'asg/masters',
    groupName: resourceNames(spec.name).masterGroup,
    minSize: w.size,
    maxGroupPreparedCapacity: w.size,
    poolState: w.state,
    reuseOnScaleIn: w.reuseOnScaleIn,
  };
}

function compareWarmPool(d: DesiredWarmPool, f: Found<WarmPool>): Comparison {
  const a = f.actual;
  return {
    changes: [
      ...diff('minSize', a.minSize, d.minSize),
      ...diff(
        'maxGroupPreparedCapacity',
        a.maxGroupPreparedCapacity ?? 'group max size',
        d.maxGroupPreparedCapacity,
      ),
      ...diff('poolState', a.poolState, d.poolState),
      ...diff('reuseOnScaleIn', a.reuseOnScaleIn, d.reuseOnScaleIn),
      // A pool still being deleted (PendingDelete) is put back once AWS has finished with it.
      ...diff('status', a.status ?? 'active', 'active'),
    ],
  };
}

const found = (key: string, group: string, pool: WarmPool): Found<WarmPool> => ({
  key,
  kind: 'warm-pool',
  title: `warm pool of ${group}`,
  id: group,
  // The pool has no tags of its own: it is tripod's when its group is.
  owned: true,
  attrs: { id: group },
  actual: pool,
});

export const warmPoolKind: ResourceKind<DesiredWarmPool, WarmPool> = {
  kind: 'warm-pool',
  group: 'instances',
  // The pool belongs to the master group: made after it, deleted before it.
  dependsOn: [autoScalingGroupKind],
  async find(ctx: Context) {
    const name = resourceNames(ctx.cluster).masterGroup;
    const groups = await ctx.once('auto-scaling-groups', () =>
      describeGroups(ctx.aws, [name, resourceNames(ctx.cluster).workerGroup]),
    );
    const g = groups.find((x) => x.name === name);
    // Another owner's group is a conflict of the group kind; its pool is not looked at.
    if (!g || !isOwned(g.tags, ctx.cluster)) return [];
    const pool = await describeWarmPool(ctx.aws, name);
    return pool ? [found(WARM_POOL_KEY, name, pool)] : [];
  },
  compare: compareWarmPool,
  async create(ctx, d) {
    const v = d.value;
    ctx.refs.need(v.group);
    const pool = {
      minSize: v.minSize,
      maxGroupPreparedCapacity: v.maxGroupPreparedCapacity,
      poolState: v.poolState,
      reuseOnScaleIn: v.reuseOnScaleIn,
    };
    await putWarmPool(ctx.aws, v.groupName, pool);
    return found(d.key, v.groupName, { ...pool, status: undefined, instances: 0 });
  },
  async update(ctx, d, f) {
    const v = d.value;
    if (f.actual.status === 'PendingDelete') {
      ctx.progress(`waiting for ${f.title} to finish deleting before putting it back`);
      await waitWarmPoolGone(ctx.aws, v.groupName, ctx.timeouts.groupDeleteMs);
    }
    await putWarmPool(ctx.aws, v.groupName, {
      minSize: v.minSize,
      maxGroupPreparedCapacity: v.maxGroupPreparedCapacity,
      poolState: v.poolState,
      reuseOnScaleIn: v.reuseOnScaleIn,
    });
    return undefined;
  },
  async delete(ctx, f) {
    if (f.actual.status === 'PendingDelete') return;
    ctx.progress(`deleting ${f.title} and its ${f.actual.instances} prepared instance(s)`);
    await deleteWarmPool(ctx.aws, f.id);
  },
};
