/**
 * One simulation: a cloud built from a seed, the reconciler invoked as the Lambda would be, a
 * random fault schedule, the invariants checked after every event, and convergence required
 * within a bounded simulated time once the faults stop. The same seed gives the same timeline.
 */

import type { ClusterSpec } from '../cluster-spec/schema.js';
import { autoMasterCount, deriveTopology } from '../cluster-spec/topology.js';
import { reconcilePass } from '../heal/reconcile.js';
import { SimCloud } from './cloud.js';
import {
  applyFault,
  endFaults,
  FAULT_KINDS,
  type FaultKind,
  generateSchedule,
  type ScheduledFault,
} from './faults.js';
import { InvariantChecker, type Violation } from './invariants.js';
import { ReconcilerLambda } from './lambda.js';
import type { NetworkModel } from './network.js';
import { simWorld, type WarmPoolOverride, withWarmPool, worldOf } from './sim-spec.js';
import type { Reconciler } from './stub-reconciler.js';

export interface SimulationOptions {
  seed: number;
  zones?: number;
  masters?: number;
  faults?: readonly FaultKind[];
  reconciler?: Reconciler;
  /** After the faults stop, the cluster must converge within this much simulated time. */
  convergeWithinMs?: number;
  /** Run this spec's cluster (its zones, masters, name, region and security groups). */
  spec?: ClusterSpec;
  /** The security groups to check connections against (default: the provisioner's for the spec). */
  network?: NetworkModel;
  /** These faults instead of a random schedule (a deterministic scenario); they stop at `end`. */
  schedule?: { faults: ScheduledFault[]; end: number };
  /** The reconciler's configuration names a backup bucket (default true: every seed takes snapshots). */
  backups?: boolean;
  /**
   * Overrides the spec's `masters.warmPool` (size 0: none). The master group's pool is the one the
   * provisioner declares for the spec (default: one Stopped instance, the schema's default).
   */
  warmPool?: WarmPoolOverride;
}

export interface SimulationResult {
  seed: number;
  ok: boolean;
  violations: Violation[];
  /** Simulated ms from the end of the faults to convergence (undefined: did not converge). */
  convergedAfterMs: number | undefined;
  simulatedMs: number;
  timeline: string;
  stats: {
    events: number;
    invocations: number;
    crashes: number;
    launched: number;
    elections: number;
    faults: number;
    /** Port calls the reconciler made (AWS, etcd, probes). */
    calls: number;
  };
}

export const zoneNames = (n: number, region = 'eu-west-1'): string[] =>
  Array.from({ length: n }, (_, i) => `${region}${String.fromCharCode(97 + i)}`);

/** The cluster and region a simulation without a spec runs (SimCloud's defaults). */
const SIM_CLUSTER = 'sim';
const SIM_REGION = 'eu-west-1';

export async function simulate(opts: SimulationOptions): Promise<SimulationResult> {
  const spec = opts.spec ? withWarmPool(opts.spec, opts.warmPool) : undefined;
  const zones = spec ? [...spec.network.zones] : zoneNames(opts.zones ?? 3);
  const masters = spec ? deriveTopology(spec).masters : (opts.masters ?? autoMasterCount(zones.length));
  // What the provisioner declares for the spec: the security groups and the master group's warm pool.
  const world = spec
    ? worldOf(spec)
    : simWorld({
        cluster: SIM_CLUSTER,
        region: SIM_REGION,
        zones,
        masters,
        ...(opts.warmPool ? { warmPool: opts.warmPool } : {}),
      });
  const warmPool = world.warmPool;
  const cloud = new SimCloud({
    seed: opts.seed,
    zones,
    masters,
    cluster: spec?.name ?? SIM_CLUSTER,
    region: spec?.region ?? SIM_REGION,
    network: opts.network ?? world.network,
    ...(world.masterHooks ? { masterHooks: world.masterHooks } : {}),
    ...(warmPool ? { warmPool } : {}),
    ...(opts.backups === false ? {} : { backupBucket: `${spec?.name ?? 'sim'}-etcd-backups` }),
  });
  const k = cloud.k;
  const lambda = new ReconcilerLambda(cloud, opts.reconciler ?? reconcilePass);
  const checker = new InvariantChecker(cloud);
  const schedule =
    opts.schedule ??
    generateSchedule(k.rng.fork('faults'), opts.faults ?? FAULT_KINDS, zones.length, 6, masters);
  k.log(
    'sim',
    `seed ${opts.seed}: ${zones.length} zones, ${masters} masters, ${warmPool ? `a warm pool of ${warmPool.size} ${warmPool.state}` : 'no warm pool'}, ${schedule.faults.length} faults until +${Math.round(schedule.end / 60_000)} min`,
  );
  k.log('sim', `master group lifecycle hooks: heartbeat ${(cloud.group.opts.hookHeartbeatMs ?? 0) / 1000} s`);
  for (const f of schedule.faults) k.at(k.clock.start + f.at, () => applyFault(cloud, lambda, f));
  const faultsEnd = k.clock.start + schedule.end;
  k.at(faultsEnd, () => endFaults(cloud));
  let events = 0;
  k.afterEvent = () => {
    events++;
    checker.check();
  };
  await k.runUntil(faultsEnd);
  // Converged also means the warm pool is back to its size of ready instances (a lost one replaced).
  const notConverged = () => checker.notConverged() ?? cloud.group.poolShort();
  const limit = opts.convergeWithinMs ?? 60 * 60_000;
  let convergedAt: number | undefined;
  // Converged = the condition holds and stays true for a minute (through the next scheduled pass).
  let since: number | undefined;
  await k.runUntil(faultsEnd + limit, () => {
    if (checker.violations.length > 0) return true;
    if (notConverged() === undefined) {
      since ??= k.now();
      if (k.now() - since >= 60_000) {
        convergedAt = since;
        return true;
      }
    } else since = undefined;
    return false;
  });
  if (convergedAt === undefined && checker.violations.length === 0) {
    checker.violations.push({
      at: k.clock.elapsed(),
      rule: 'converge',
      detail: `not converged ${Math.round(limit / 60_000)} min after the faults stopped: ${notConverged()}`,
    });
    k.log('VIOLATION', `converge: ${notConverged()}`);
  } else if (convergedAt !== undefined) {
    k.log('sim', `converged ${((convergedAt - faultsEnd) / 1000).toFixed(1)} s after the faults stopped`);
  }
  return {
    seed: opts.seed,
    ok: checker.violations.length === 0,
    violations: checker.violations,
    convergedAfterMs: convergedAt === undefined ? undefined : convergedAt - faultsEnd,
    simulatedMs: k.clock.elapsed(),
    timeline: k.timelineText(),
    stats: {
      events,
      invocations: lambda.stats.invocations,
      crashes: lambda.stats.crashes,
      launched: cloud.group.stats.launched,
      elections: cloud.etcd.stats.elections,
      faults: schedule.faults.length,
      calls: cloud.stats.calls,
    },
  };
}

export interface SeedsSummary {
  seeds: number;
  failed: SimulationResult[];
  /** Wall-clock milliseconds. */
  elapsedMs: number;
  /** Simulated ms from the end of the faults to convergence: median and worst. */
  convergeMedianMs: number;
  convergeMaxMs: number;
}

/** Run `count` seeds from `from`; `onProgress` after each one. */
export async function simulateSeeds(
  base: Omit<SimulationOptions, 'seed'>,
  from: number,
  count: number,
  onProgress?: (done: number, failed: number, r: SimulationResult) => void,
): Promise<SeedsSummary> {
  const t0 = performance.now();
  const failed: SimulationResult[] = [];
  const converge: number[] = [];
  for (let i = 0; i < count; i++) {
    const r = await simulate({ ...base, seed: from + i });
    if (!r.ok) failed.push(r);
    if (r.convergedAfterMs !== undefined) converge.push(r.convergedAfterMs);
    onProgress?.(i + 1, failed.length, r);
  }
  converge.sort((a, b) => a - b);
  return {
    seeds: count,
    failed,
    elapsedMs: performance.now() - t0,
    convergeMedianMs: converge[Math.floor(converge.length / 2)] ?? 0,
    convergeMaxMs: converge[converge.length - 1] ?? 0,
  };
}
