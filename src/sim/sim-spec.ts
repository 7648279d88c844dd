/**
 * The cluster spec a simulation runs when it is given none (zones, masters, name and region from the
 * simulation's options, the schema's defaults for the rest), and what the provisioner declares for
 * it that the simulated cloud is built from: its network model (the security groups) and the master
 * group's warm pool. Both are built once per spec shape and shared by every seed that runs it.
 */

import { type ClusterSpec, clusterSpecSchema, type WarmPoolSpec } from '../cluster-spec/schema.js';
import type { DesiredGroup } from '../provision/auto-scaling-group.js';
import { desiredCluster } from '../provision/desired.js';
import type { Desired } from '../provision/resource.js';
import { type DesiredWarmPool, WARM_POOL_KEY } from '../provision/warm-pool.js';
import type { DeclaredHook } from './auto-scaling.js';
import { NetworkModel } from './network.js';

/** The master group's warm pool as the simulated cloud takes it (CloudOptions.warmPool). */
export interface SimWarmPool {
  size: number;
  state: 'Stopped' | 'Running';
}

/** `masters.warmPool` fields a simulation sets (the schema's defaults for the rest). */
export type WarmPoolOverride = Partial<Pick<WarmPoolSpec, 'size' | 'state'>>;

export interface SimSpecOptions {
  cluster: string;
  region: string;
  zones: readonly string[];
  masters: number;
  /** The spec's `masters.warmPool` (default: the schema's, one Stopped instance). */
  warmPool?: WarmPoolOverride;
}

/** A spec the simulator stands for: a VPC tripod makes, the default endpoints and service ports. */
export function simSpec(o: SimSpecOptions): ClusterSpec {
  return clusterSpecSchema.parse({
    apiVersion: 'tripod/v1',
    kind: 'Cluster',
    name: o.cluster,
    region: o.region,
    kubernetesVersion: '1.32.4',
    network: { cidr: '10.0.0.0/16', zones: [...o.zones] },
    masters: { count: o.masters, ...(o.warmPool ? { warmPool: o.warmPool } : {}) },
  });
}

/** `spec` with its `masters.warmPool` fields overridden, validated by the spec's schema. */
export function withWarmPool(spec: ClusterSpec, pool: WarmPoolOverride | undefined): ClusterSpec {
  if (!pool) return spec;
  return clusterSpecSchema.parse({
    ...spec,
    masters: { ...spec.masters, warmPool: { ...spec.masters.warmPool, ...pool } },
  });
}

/**
 * The master group's warm pool the simulated cloud runs: the provisioner's desired `warm-pool/masters`
 * (PutWarmPool's MinSize and PoolState), none when it declares none (size 0). The simulated group
 * puts MaxGroupPreparedCapacity = MinSize, as the provisioner does: a declaration that differs is refused.
 */
export function warmPoolOf(resources: readonly Desired[]): SimWarmPool | undefined {
  const declared = resources.find((r) => r.key === WARM_POOL_KEY)?.value as DesiredWarmPool | undefined;
  if (!declared) return undefined;
  if (declared.group !== 'asg/masters')
    throw new Error(`${WARM_POOL_KEY} belongs to ${declared.group}: the simulator puts it on asg/masters`);
  if (declared.maxGroupPreparedCapacity !== declared.minSize)
    throw new Error(
      `${WARM_POOL_KEY}: MaxGroupPreparedCapacity ${declared.maxGroupPreparedCapacity} differs from MinSize ${declared.minSize}; the simulated pool has the absolute size MinSize`,
    );
  return { size: declared.minSize, state: declared.poolState };
}

/** What the simulated cloud is built from, as the provisioner declares it for a spec. */
export interface SimWorld {
  network: NetworkModel;
  warmPool: SimWarmPool | undefined;
  /** The master group's lifecycle hooks (the desired `asg/masters`' hooks: heartbeat, default results). */
  masterHooks: DeclaredHook[] | undefined;
}

const worlds = new Map<string, SimWorld>();

/** The network model and warm pool of the provisioner's desired resources for `spec`. */
export function worldOf(spec: ClusterSpec): SimWorld {
  const desired = desiredCluster(spec);
  const masters = desired.resources.find((r) => r.key === 'asg/masters')?.value as DesiredGroup | undefined;
  return {
    network: NetworkModel.of(spec, desired),
    warmPool: warmPoolOf(desired.resources),
    masterHooks: masters?.hooks,
  };
}

/** `worldOf(simSpec(o))`, built once per spec shape. */
export function simWorld(o: SimSpecOptions): SimWorld {
  const key = `${o.cluster}|${o.region}|${o.zones.join(',')}|${o.masters}|${o.warmPool?.size ?? ''}:${o.warmPool?.state ?? ''}`;
  let w = worlds.get(key);
  if (!w) {
    w = worldOf(simSpec(o));
    worlds.set(key, w);
  }
  return w;
}

export function simNetwork(o: SimSpecOptions): NetworkModel {
  return simWorld(o).network;
}
