/**
 * A rolling upgrade in the simulator: a cluster formed by the real reconciler, the provisioner's
 * apply (a new launch template version), then `runUpgrade` driving the simulated instance refresh,
 * with faults injected mid-upgrade. The simulator's invariants are checked after every event; the
 * upgrade must complete (or end paused, safely) and the cluster converge on the new version.
 */

import { autoMasterCount } from '../cluster-spec/topology.js';
import { reconcilePass } from '../heal/reconcile.js';
import type { UpgradeRequest } from '../upgrade/plan.js';
import { runUpgrade, type UpgradeOutcome } from '../upgrade/run.js';
import { AutoScalingGroup } from './auto-scaling.js';
import { SimCloud } from './cloud.js';
import { SimInstanceRefresh, simUpgradePort } from './instance-refresh.js';
import { InvariantChecker, type Violation } from './invariants.js';
import { ReconcilerLambda } from './lambda.js';
import { zoneNames } from './run.js';

export type UpgradeFault =
  /** The zone of the first replacement fails for 10 min. */
  | 'zone-outage'
  /** The first new master is killed as soon as it runs. */
  | 'kill-new'
  /** EventBridge loses most events for 20 min. */
  | 'event-loss'
  /** The run is cut off mid-upgrade and run again. */
  | 'cut-off'
  /** etcd crashes (and systemd restarts it) on an old master mid-upgrade. */
  | 'etcd-crash'
  /** `abort` is run mid-upgrade (the upgrade rolls back). */
  | 'abort';

export interface UpgradeSimOptions {
  seed: number;
  zones?: number;
  masters?: number;
  faults?: readonly UpgradeFault[];
  /** When the faults hit, after the upgrade starts (default 4 min). */
  faultAfterMs?: number;
  timeoutMs?: number;
  /** Seconds of warmup after InService (default 0). */
  warmupSeconds?: number;
  /** A worker group of this size (no hooks), replaced after the masters (default: none). */
  workers?: number;
  /** spec.upgrade.workerMinHealthyPercentage (default 90). */
  workerMinHealthyPercentage?: number;
}

export interface UpgradeSimResult {
  seed: number;
  ok: boolean;
  problems: string[];
  violations: Violation[];
  outcomes: UpgradeOutcome[];
  lines: string[];
  timeline: string;
  /** Simulated ms from the first run's start to the last run's end. */
  upgradeMs: number;
  /** Per new master: launch -> its API server ready (boot, join, promotion, control plane). */
  bootMs: number[];
  /** (upgradeMs - sum of boots) / masters: time tripod and Auto Scaling add per master. */
  overheadPerMasterMs: number;
  stats: { launched: number; refreshes: number; cancels: number; elections: number; leaderMoves: number };
  /** Most etcd voters / running masters (in zones that are up) seen at once during the upgrade (surge of one: M+1). */
  maxVoters: number;
  maxLive: number;
  /** Fewest InService, Healthy workers seen once the worker refresh started (undefined: no workers). */
  minWorkersInService: number | undefined;
  /** Workers at the end, and how many of them run version 2. */
  workersAtEnd: { total: number; upgraded: number } | undefined;
}

const MIN = 60_000;

export async function simulateUpgrade(opts: UpgradeSimOptions): Promise<UpgradeSimResult> {
  const zones = zoneNames(opts.zones ?? 3);
  const masters = opts.masters ?? autoMasterCount(zones.length);
  const cloud = new SimCloud({ seed: opts.seed, zones, masters, cluster: 'upg' });
  const k = cloud.k;
  new ReconcilerLambda(cloud, reconcilePass);
  const checker = new InvariantChecker(cloud);
  const refresh = new SimInstanceRefresh(cloud);
  const workerGroup =
    opts.workers === undefined
      ? undefined
      : new AutoScalingGroup(k, cloud.ec2, cloud.zones, cloud.bus, {
          name: cloud.config.workerGroupName,
          desired: opts.workers,
          min: opts.workers,
          max: opts.workers * 2,
          hookHeartbeatMs: undefined,
          launchDefaultResult: 'CONTINUE',
          terminateDefaultResult: 'CONTINUE',
          targetGroups: [],
          impairedGraceMs: 60_000,
          tickMs: 10_000,
        });
  const workerRefresh = workerGroup ? new SimInstanceRefresh(cloud, 5_000, workerGroup) : undefined;
  let minWorkers: number | undefined;
  refresh.kubernetesVersionTag = '1.31.4';
  let maxVoters = 0;
  let maxLive = 0;
  let upgrading = false;
  k.afterEvent = () => {
    checker.check();
    if (!upgrading) return;
    maxVoters = Math.max(maxVoters, cloud.etcd.voters().length);
    if (workerGroup && workerRefresh && workerRefresh.refreshes.length > 0) {
      const n = workerGroup
        .active()
        .filter((m) => m.lifecycle === 'InService' && m.health === 'Healthy').length;
      minWorkers = Math.min(minWorkers ?? n, n);
    }
    maxLive = Math.max(
      maxLive,
      cloud.group.active().filter((m) => cloud.ec2.alive(cloud.ec2.get(m.id))).length,
    );
  };
  const problems: string[] = [];
  const faults = opts.faults ?? [];

  const convergedFor = async (limitMs: number): Promise<boolean> => {
    let since: number | undefined;
    let ok = false;
    await k.runUntil(k.now() + limitMs, () => {
      if (checker.violations.length > 0) return true;
      if (checker.notConverged() === undefined) {
        since ??= k.now();
        if (k.now() - since >= MIN) {
          ok = true;
          return true;
        }
      } else since = undefined;
      return false;
    });
    return ok;
  };

  const result = (extra: Partial<UpgradeSimResult>): UpgradeSimResult => ({
    seed: opts.seed,
    ok: problems.length === 0 && checker.violations.length === 0,
    problems,
    violations: checker.violations,
    outcomes: [],
    lines: [],
    timeline: k.timelineText(),
    upgradeMs: 0,
    bootMs: [],
    overheadPerMasterMs: 0,
    stats: { launched: 0, refreshes: 0, cancels: 0, elections: 0, leaderMoves: 0 },
    maxVoters,
    minWorkersInService: minWorkers,
    workersAtEnd: workerRefresh
      ? {
          total: workerRefresh.groupView().instances.length,
          upgraded: workerRefresh.groupView().instances.filter((i) => i.version === '2').length,
        }
      : undefined,
    maxLive,
    ...extra,
  });

  if (!(await convergedFor(30 * MIN))) {
    problems.push(`the cluster did not form: ${checker.notConverged()}`);
    return result({});
  }
  // The provisioner's apply: Kubernetes 1.32.0 in a new launch template version.
  refresh.setLaunchTemplateVersion('2');
  workerRefresh?.setLaunchTemplateVersion('2');
  const req: UpgradeRequest = {
    cluster: cloud.config.cluster,
    masterGroup: cloud.config.masterGroupName,
    workerGroup: cloud.config.workerGroupName,
    expectedMasters: masters,
    zones,
    kubernetesVersion: '1.32.0',
    workerMinHealthyPercentage: opts.workerMinHealthyPercentage ?? 90,
    abort: false,
    instanceWarmupSeconds: opts.warmupSeconds ?? 0,
  };
  const port = simUpgradePort(cloud, workerRefresh ? [refresh, workerRefresh] : [refresh]);
  const lines: string[] = [];
  const outcomes: UpgradeOutcome[] = [];
  let running = 0;
  let controller = new AbortController();
  const launch = (r: UpgradeRequest) => {
    running++;
    controller = new AbortController();
    k.spawn(
      () =>
        runUpgrade(port, r, {
          timeoutMs: opts.timeoutMs ?? 120 * MIN,
          pollMs: 10_000,
          signal: controller.signal,
          onProgress: (line) => {
            lines.push(line);
            k.log('upgrade', line);
          },
        }),
      (res) => {
        running--;
        if (res.ok) {
          outcomes.push(res.value);
          k.log('upgrade', `run ended: ${res.value.result}: ${res.value.message}`);
        } else {
          problems.push(`the upgrade run threw: ${(res.error as Error).message}`);
          k.log('upgrade', `run threw: ${(res.error as Error).message}`);
        }
      },
    );
  };
  upgrading = true;
  const start = k.now();
  const initial = new Set(cloud.group.members.keys());
  launch(req);

  const at = start + (opts.faultAfterMs ?? 4 * MIN);
  const firstNew = () => [...cloud.group.members.values()].find((m) => !initial.has(m.id));
  for (const f of faults) {
    switch (f) {
      case 'zone-outage':
        k.at(at, () => {
          const zone = firstNew()?.zone ?? zones[0]!;
          k.log('fault', `zone outage ${zone} for 10 min`);
          cloud.zones.fail(zone, k.now());
          cloud.networkChanged();
          k.after(10 * MIN, () => {
            k.log('fault', `zone ${zone} recovers`);
            cloud.zones.recover(zone);
            cloud.networkChanged();
          });
        });
        break;
      case 'kill-new': {
        const poll = () => {
          const m = firstNew();
          const inst = m ? cloud.ec2.get(m.id) : undefined;
          if (inst?.state === 'running') {
            k.log('fault', `kill the new master ${inst.id} (${inst.zone})`);
            cloud.ec2.terminate(inst.id);
            cloud.networkChanged();
          } else k.after(5_000, poll);
        };
        k.at(start + 30_000, poll);
        break;
      }
      case 'event-loss':
        k.at(start, () => {
          k.log('fault', 'EventBridge loses 70% of events for 20 min');
          cloud.bus.degrade({ until: k.now() + 20 * MIN, loss: 0.7 });
        });
        break;
      case 'etcd-crash':
        k.at(at, () => {
          const old = [...cloud.group.members.values()].find(
            (m) => initial.has(m.id) && m.lifecycle === 'InService',
          );
          if (!old) return;
          k.log('fault', `etcd crashes on ${old.id} (systemd restarts it)`);
          cloud.nodes.crashEtcd(old.id, false);
        });
        break;
      case 'cut-off':
        if (faults.includes('abort')) break; // the abort cuts the run off itself
        k.at(at, () => {
          k.log('fault', 'the upgrade run is cut off; it is run again 2 min later');
          controller.abort();
          k.after(2 * MIN, () => launch(req));
        });
        break;
      case 'abort':
        k.at(at, () => {
          k.log('fault', 'the upgrade run is cut off and run again with abort: true');
          controller.abort();
          k.after(30_000, () => launch({ ...req, abort: true }));
        });
        break;
    }
  }

  const limit = (opts.timeoutMs ?? 120 * MIN) + 30 * MIN;
  const settledAt = () => running === 0 && outcomes.length > 0 && outcomes.at(-1)?.result !== 'interrupted';
  await k.runUntil(start + limit, () => checker.violations.length > 0 || settledAt());
  const end = k.now();
  const last = outcomes.at(-1);
  // An abort that comes after the upgrade completed finds nothing to abort (and changes nothing).
  const abortedLate = faults.includes('abort') && outcomes[0]?.result === 'completed';
  const aborting = faults.includes('abort') && !abortedLate;
  const want = aborting ? 'aborted' : 'completed';
  if (!last) problems.push('the upgrade never finished');
  else if (abortedLate && last.result === 'nothing-to-do') {
    // the abort came after the upgrade completed: nothing to abort
  } else if (last.result !== want && !(last.paused && last.result === 'timed-out'))
    problems.push(`the upgrade ended ${last.result}, want ${want}: ${last.message}`);
  if (checker.violations.length === 0 && !(await convergedFor(30 * MIN)))
    problems.push(`not converged after the upgrade: ${checker.notConverged()}`);
  const wantVersion = aborting ? '1' : '2';
  const wrong = refresh
    .groupView()
    .instances.filter((i) => i.lifecycleState === 'InService' && i.version !== wantVersion);
  if ((last?.result === want || abortedLate) && wrong.length > 0)
    problems.push(
      `${wrong.length} master(s) not on version ${wantVersion}: ${wrong.map((i) => i.instanceId).join(', ')}`,
    );

  // Boot times of the new masters: launch -> API server ready.
  const launchedAt = new Map<string, number>();
  const bootMs: number[] = [];
  for (const e of k.timeline) {
    const l = /^launch (i-[0-9a-f]+) /.exec(e.text);
    if (e.source === 'asg' && l && !initial.has(l[1]!)) launchedAt.set(l[1]!, e.at);
    const r = /^(i-[0-9a-f]+) API server ready/.exec(e.text);
    if (e.source === 'node' && r && launchedAt.has(r[1]!) && e.at <= end - k.clock.start)
      bootMs.push(e.at - (launchedAt.get(r[1]!) as number));
  }
  const upgradeMs = end - start;
  const replaced = Math.max(1, Math.min(masters, bootMs.length));
  const bootTotal = bootMs.slice(0, replaced).reduce((a, b) => a + b, 0);
  return result({
    ok: problems.length === 0 && checker.violations.length === 0,
    outcomes,
    lines,
    timeline: k.timelineText(),
    upgradeMs,
    bootMs,
    overheadPerMasterMs: (upgradeMs - bootTotal) / replaced,
    stats: {
      launched: cloud.group.stats.launched,
      refreshes: refresh.stats.started,
      cancels: refresh.stats.cancelled,
      elections: cloud.etcd.stats.elections,
      leaderMoves: k.timeline.filter((e) => e.text.startsWith('etcd move-leader') && e.text.endsWith(': ok'))
        .length,
    },
  });
}

export const UPGRADE_FAULTS: readonly UpgradeFault[] = [
  'zone-outage',
  'kill-new',
  'event-loss',
  'cut-off',
  'etcd-crash',
  'abort',
];

/** A seed's own mix of faults (each in about a third of the seeds) and when they hit. */
export function seededFaults(seed: number): { faults: UpgradeFault[]; faultAfterMs: number } {
  const h = Math.imul(seed, 2654435761) >>> 0;
  return {
    faults: UPGRADE_FAULTS.filter((_, i) => (h >>> (i * 3)) % 3 === 0),
    faultAfterMs: 30_000 + ((seed * 7919) % 8) * MIN,
  };
}

/** Seeds `from`..`from+count-1`, each with its own faults; the failing ones. */
export async function simulateUpgradeSeeds(
  base: Omit<UpgradeSimOptions, 'seed' | 'faults' | 'faultAfterMs'>,
  from: number,
  count: number,
  onProgress?: (done: number, failed: number) => void,
): Promise<{ failed: Array<UpgradeSimResult & { faults: UpgradeFault[] }>; upgradeMs: number[] }> {
  const failed: Array<UpgradeSimResult & { faults: UpgradeFault[] }> = [];
  const upgradeMs: number[] = [];
  for (let i = 0; i < count; i++) {
    const seed = from + i;
    const f = seededFaults(seed);
    const r = await simulateUpgrade({ ...base, seed, ...f });
    const masters = base.masters ?? autoMasterCount(base.zones ?? 3);
    if (!r.ok || r.maxVoters > masters + 1) failed.push({ ...r, faults: f.faults });
    else upgradeMs.push(r.upgradeMs);
    onProgress?.(i + 1, failed.length);
  }
  return { failed, upgradeMs };
}
