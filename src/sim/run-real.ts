/**
 * One seed with the REAL etcd back end: the same cloud, reconciler and fault schedule as run.ts,
 * but every master's etcd member is a real etcd process (etcd-real.ts) and the kernel runs in real
 * time (`speed` virtual seconds per second). Slower than the model (about a minute per seed) and not
 * replayable exactly (real processes have their own timing), so it runs few faults per seed: kills,
 * zone outages and recoveries, etcd crashes (SIGKILL), partitions (SIGSTOP of the zone's processes),
 * and the AWS-side faults (event loss/duplication, throttling, reconciler crashes) unchanged.
 * Checks: at most one learner (polled), the keys written once the cluster formed are readable at
 * the end, and convergence once the faults stop.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { autoMasterCount } from '../cluster-spec/topology.js';
import { reconcilePass } from '../heal/reconcile.js';
import { SimCloud } from './cloud.js';
import { pickEtcdPorts, type RealEtcd, removeOnInterrupt } from './etcd-real.js';
import { applyFault, endFaults, FAULT_KINDS, type FaultKind, generateSchedule } from './faults.js';
import type { Violation } from './invariants.js';
import { ReconcilerLambda } from './lambda.js';
import { makeClusterPki } from './pki.js';
import { RealWatch, realNotConverged } from './real-invariants.js';
import { zoneNames } from './run.js';

export interface RealSimulationOptions {
  seed: number;
  zones?: number;
  masters?: number;
  faults?: readonly FaultKind[];
  /** Faults per seed (default 2). */
  maxFaults?: number;
  /** Virtual seconds per real second (default 30). */
  speed?: number;
  /** After the faults stop, the cluster must converge within this much simulated time (default 30 min). */
  convergeWithinMs?: number;
  etcdBin?: string;
  keep?: boolean;
}

export interface RealSimulationResult {
  seed: number;
  ok: boolean;
  violations: Violation[];
  convergedAfterMs: number | undefined;
  simulatedMs: number;
  realMs: number;
  timeline: string;
  stats: { faults: number; invocations: number; etcdProcesses: number };
}

export async function simulateReal(opts: RealSimulationOptions): Promise<RealSimulationResult> {
  const t0 = performance.now();
  const zones = zoneNames(opts.zones ?? 3);
  const masters = opts.masters ?? autoMasterCount(zones.length);
  const speed = opts.speed ?? 30;
  const dir = await mkdtemp(join(tmpdir(), 'tripod-sim-real-'));
  removeOnInterrupt(dir, !opts.keep);
  const pki = await makeClusterPki(join(dir, 'pki'));
  const cloud = new SimCloud({
    seed: opts.seed,
    zones,
    masters,
    realEtcd: {
      dir: join(dir, 'etcd'),
      caDir: pki.caDir,
      tls: pki.tls,
      etcdBin: opts.etcdBin,
      ports: await pickEtcdPorts(),
    },
  });
  const k = cloud.k;
  const real = cloud.real as RealEtcd;
  const lambda = new ReconcilerLambda(cloud, reconcilePass);
  const schedule = generateSchedule(
    k.rng.fork('faults'),
    opts.faults ?? FAULT_KINDS,
    zones.length,
    opts.maxFaults ?? 2,
  );
  k.log(
    'sim',
    `seed ${opts.seed} (real etcd, ${speed}x): ${zones.length} zones, ${masters} masters, ${schedule.faults.length} faults until +${Math.round(schedule.end / 60_000)} min`,
  );
  for (const f of schedule.faults) k.at(k.clock.start + f.at, () => applyFault(cloud, lambda, f));
  const faultsEnd = k.clock.start + schedule.end;
  k.at(faultsEnd, () => endFaults(cloud));
  const watch = new RealWatch(real, () => {});
  watch.start();
  const violations: Violation[] = [];
  const violate = (rule: string, detail: string) => {
    violations.push({ at: k.clock.elapsed(), rule, detail });
    k.log('VIOLATION', `${rule}: ${detail}`);
  };
  let convergedAt: number | undefined;
  const keys = new Map<string, string>();
  try {
    // The cluster forms (before the first destructive fault at +10 min), then keys go in.
    await k.runRealtime(faultsEnd, speed, () => realNotConverged(cloud, real, 0) === undefined);
    if (realNotConverged(cloud, real, 0) === undefined) {
      for (let i = 1; i <= 3; i++) {
        const key = `/sim/seed-${opts.seed}/key-${i}`;
        await real
          .put(key, `v${i}`)
          .then(() => keys.set(key, `v${i}`))
          .catch(() => {});
      }
      k.log('sim', `cluster formed; wrote ${keys.size} keys`);
    }
    await k.runRealtime(faultsEnd, speed);
    const limit = opts.convergeWithinMs ?? 30 * 60_000;
    let since: number | undefined;
    const fresh = Date.now();
    await k.runRealtime(faultsEnd + limit, speed, () => {
      if (realNotConverged(cloud, real, fresh) === undefined) {
        since ??= k.now();
        if (k.now() - since >= 60_000) {
          convergedAt = since;
          return true;
        }
      } else since = undefined;
      return false;
    });
    if (convergedAt === undefined) {
      violate(
        'converge',
        `not converged ${Math.round(limit / 60_000)} min after the faults stopped: ${realNotConverged(cloud, real, fresh)}`,
      );
    } else {
      k.log('sim', `converged ${((convergedAt - faultsEnd) / 1000).toFixed(1)} s after the faults stopped`);
    }
    for (const [key, value] of keys) {
      const got = await real.get(key).catch((e: unknown) => `(error: ${(e as Error).message})`);
      if (got !== value)
        violate('data', `${key} reads ${JSON.stringify(got)}, wrote ${JSON.stringify(value)}`);
    }
    for (const v of watch.violations) violate('polled', v);
  } finally {
    await watch.stop();
    await real.stop(opts.keep);
    if (!opts.keep) await rm(dir, { recursive: true, force: true });
    removeOnInterrupt(dir, false);
  }
  return {
    seed: opts.seed,
    ok: violations.length === 0,
    violations,
    convergedAfterMs: convergedAt === undefined ? undefined : convergedAt - faultsEnd,
    simulatedMs: k.clock.elapsed(),
    realMs: performance.now() - t0,
    timeline: k.timelineText(),
    stats: {
      faults: schedule.faults.length,
      invocations: lambda.stats.invocations,
      etcdProcesses: real.stats.started,
    },
  };
}
