/**
 * The next step of an upgrade: a pure function of what one look saw (model.ts) and what was asked.
 * Masters first, then workers, one Auto Scaling instance refresh per group:
 *  - masters: MinHealthyPercentage 100 and MaxHealthyPercentage just above 100, so the group launches
 *    ONE new master before it terminates an old one; the lifecycle hooks let the reconciler join the
 *    new member (learner, caught up, promoted, ready, registered) and remove the old one (leadership
 *    moved, deregistered, removed) before each step completes. SkipMatching makes a re-run resume.
 *  - workers: batches bounded by spec.upgrade.workerMinHealthyPercentage; the worker terminating hook
 *    drains each one before it goes.
 * A quorum margin of zero pauses the master refresh (cancel now, start again with SkipMatching once
 * healthy); `abort` rolls back to the launch template versions from before the upgrade.
 */
import {
  ACTIVE_REFRESH,
  type GroupView,
  liveInstances,
  outdated,
  type RefreshPreferences,
  type RefreshView,
  type UpgradeObserved,
  type UpgradeRecord,
} from './model.js';
import { type PreflightResult, preflight } from './preflight.js';

export interface UpgradeRequest {
  cluster: string;
  masterGroup: string;
  workerGroup: string;
  expectedMasters: number;
  zones: readonly string[];
  kubernetesVersion: string;
  workerMinHealthyPercentage: number;
  abort: boolean;
  /** Seconds a new instance warms up after InService before the next replacement. */
  instanceWarmupSeconds?: number;
  /** The reconciler's status must be newer than this to count (default 5 min). */
  maxStatusAgeMs?: number;
}

export type UpgradeStep =
  | { kind: 'refuse'; reasons: string[]; preflight?: PreflightResult }
  | { kind: 'begin'; record: UpgradeRecord; preflight: PreflightResult }
  | {
      kind: 'start-refresh';
      group: string;
      role: 'masters' | 'workers';
      version: string;
      preferences: RefreshPreferences;
      /** Name the version in the refresh's desired configuration (see UpgradePort.startRefresh). */
      pin?: true;
      why: string;
    }
  | { kind: 'pause'; group: string; why: string; cancel: boolean }
  | { kind: 'rollback'; group: string; role: 'masters' | 'workers'; why: string }
  | { kind: 'wait'; why: string }
  | { kind: 'fail'; reason: string }
  | {
      kind: 'finish';
      record: UpgradeRecord;
      outcome: 'completed' | 'aborted' | 'nothing-to-do';
      why: string;
    };

/** The smallest MaxHealthyPercentage that lets the group run exactly one instance above desired. */
export const surgeOfOne = (desired: number): number =>
  Math.ceil((100 * (desired + 1)) / Math.max(1, desired));

export function masterRefreshPreferences(desired: number, warmupSeconds = 0): RefreshPreferences {
  const n = Math.max(1, desired);
  return {
    minHealthyPercentage: 100,
    maxHealthyPercentage: surgeOfOne(n),
    skipMatching: true,
    instanceWarmupSeconds: warmupSeconds,
    // A checkpoint after each master: the refresh reports it (and its event) before the next one.
    checkpointPercentages: Array.from({ length: n }, (_, i) => Math.round((100 * (i + 1)) / n)),
    checkpointDelaySeconds: 0,
  };
}

export function workerRefreshPreferences(minHealthy: number, warmupSeconds = 0): RefreshPreferences {
  return {
    minHealthyPercentage: minHealthy,
    maxHealthyPercentage: 100,
    skipMatching: true,
    instanceWarmupSeconds: warmupSeconds,
  };
}

/** Why the masters are not safe to touch now (quorum margin <= 0, etcd unreachable), or undefined. */
export function quorumHold(o: UpgradeObserved, maxStatusAgeMs = 5 * 60_000): string | undefined {
  const s = o.status;
  if (!s) return 'the reconciler has published no status yet';
  const age = o.now - Date.parse(s.at);
  if (!(age <= maxStatusAgeMs)) return `the reconciler's status is ${Math.round(age / 1000)} s old`;
  const c = s.conditions;
  if (!c.etcdReachable) return 'etcd is unreachable (quorum lost?)';
  if (c.quorumMargin <= 0)
    return `quorum margin ${c.quorumMargin}: ${c.healthyVoters} of ${c.voters} voters healthy, quorum ${c.quorum}`;
  return undefined;
}

const isActive = (r: RefreshView | undefined): boolean => r !== undefined && ACTIVE_REFRESH.has(r.status);

const describeRefresh = (r: RefreshView) =>
  `refresh ${r.id} ${r.status}${r.percentageComplete !== undefined ? ` ${r.percentageComplete}%` : ''}${
    r.instancesToUpdate !== undefined ? `, ${r.instancesToUpdate} to replace` : ''
  }${r.statusReason ? ` (${r.statusReason})` : ''}`;

/** The group is at `version`: every live instance runs it and the group has its desired size. */
const groupAt = (g: GroupView, version: string) =>
  outdated(g, version).length === 0 && liveInstances(g).length === g.desired;

export function nextStep(o: UpgradeObserved, req: UpgradeRequest): UpgradeStep {
  const rec = o.record;
  const inProgress = rec.inProgress;
  if (req.abort) return abortStep(o, req);

  if (!inProgress) {
    const masterTarget = o.masters.targetVersion;
    const stale =
      outdated(o.masters, masterTarget).length +
      (o.workers ? outdated(o.workers, o.workers.targetVersion).length : 0);
    const running = rec.kubernetesVersion ?? o.runningKubernetesVersion;
    if (stale === 0) {
      if (running !== undefined && running !== req.kubernetesVersion) {
        return {
          kind: 'refuse',
          reasons: [
            `the spec says Kubernetes ${req.kubernetesVersion} but every instance already runs the group's launch template version ${masterTarget} (Kubernetes ${running}): run apply first, so the launch templates get the new version`,
          ],
        };
      }
      return {
        kind: 'finish',
        record: { kubernetesVersion: req.kubernetesVersion },
        outcome: 'nothing-to-do',
        why: `every instance already runs its group's launch template version (masters ${masterTarget}${o.workers ? `, workers ${o.workers.targetVersion}` : ''})`,
      };
    }
    const pf = preflight({
      now: o.now,
      masters: o.masters,
      workers: o.workers,
      status: o.status,
      expectedMasters: req.expectedMasters,
      zones: req.zones,
      fromVersion: running,
      toVersion: req.kubernetesVersion,
      ...(req.maxStatusAgeMs !== undefined ? { maxStatusAgeMs: req.maxStatusAgeMs } : {}),
    });
    if (!pf.ok) return { kind: 'refuse', reasons: pf.reasons, preflight: pf };
    const prevMaster = mostCommonVersion(o.masters, masterTarget);
    const prevWorker = o.workers ? mostCommonVersion(o.workers, o.workers.targetVersion) : undefined;
    return {
      kind: 'begin',
      preflight: pf,
      record: {
        ...(running !== undefined ? { kubernetesVersion: running } : {}),
        inProgress: {
          kubernetesVersion: req.kubernetesVersion,
          masterVersion: masterTarget,
          previousMasterVersion: prevMaster,
          ...(o.workers
            ? {
                workerVersion: o.workers.targetVersion,
                previousWorkerVersion: prevWorker ?? o.workers.targetVersion,
              }
            : {}),
          startedAt: new Date(o.now).toISOString(),
        },
      },
    };
  }

  if (inProgress.aborting) return abortStep(o, req);
  if (inProgress.kubernetesVersion !== req.kubernetesVersion) {
    return {
      kind: 'refuse',
      reasons: [
        `an upgrade to Kubernetes ${inProgress.kubernetesVersion} (started ${inProgress.startedAt}) is in progress and the spec now says ${req.kubernetesVersion}: re-run with ${inProgress.kubernetesVersion} to finish it, or abort it first`,
      ],
    };
  }

  // Masters first.
  const m = rollStep(o, req, 'masters', o.masters, o.masterRefresh, inProgress.masterVersion);
  if (m) return m;
  // Then workers.
  if (o.workers && inProgress.workerVersion !== undefined) {
    const w = rollStep(o, req, 'workers', o.workers, o.workerRefresh, inProgress.workerVersion);
    if (w) return w;
  }
  return {
    kind: 'finish',
    record: { kubernetesVersion: inProgress.kubernetesVersion },
    outcome: 'completed',
    why: `every master${o.workers ? ' and worker' : ''} runs the new launch template (Kubernetes ${inProgress.kubernetesVersion})`,
  };
}

/** One group toward `version`; undefined when the group is there. */
function rollStep(
  o: UpgradeObserved,
  req: UpgradeRequest,
  role: 'masters' | 'workers',
  g: GroupView,
  r: RefreshView | undefined,
  version: string,
): UpgradeStep | undefined {
  const hold = role === 'masters' ? quorumHold(o, req.maxStatusAgeMs) : undefined;
  if (r && isActive(r)) {
    if (hold && (r.status === 'Pending' || r.status === 'InProgress')) {
      return {
        kind: 'pause',
        group: g.name,
        cancel: true,
        why: `paused: ${hold}; the ${role} refresh is cancelled and resumes (SkipMatching) once the cluster is healthy`,
      };
    }
    return { kind: 'wait', why: `${role}: ${describeRefresh(r)}` };
  }
  if (groupAt(g, version)) {
    // The last refresh may have finished while a replacement was still settling: wait for the hooks.
    const busy = g.instances.filter((i) => i.lifecycleState !== 'InService');
    if (busy.length > 0)
      return {
        kind: 'wait',
        why: `${role}: ${busy.map((i) => `${i.instanceId} ${i.lifecycleState}`).join(', ')}`,
      };
    if (role === 'masters' && hold)
      return { kind: 'pause', group: g.name, cancel: false, why: `paused: ${hold}` };
    return undefined;
  }
  if (hold)
    return {
      kind: 'pause',
      group: g.name,
      cancel: false,
      why: `paused before the next ${role} refresh: ${hold}`,
    };
  if (r?.status === 'Failed' || r?.status === 'RollbackFailed') {
    return {
      kind: 'fail',
      reason: `the ${role} instance refresh ${r.id} failed${r.statusReason ? `: ${r.statusReason}` : ''}. Look at the group's activity, then re-run (it resumes) or abort`,
    };
  }
  const stale = outdated(g, version).length;
  const preferences =
    role === 'masters'
      ? masterRefreshPreferences(g.desired, req.instanceWarmupSeconds)
      : workerRefreshPreferences(req.workerMinHealthyPercentage, req.instanceWarmupSeconds);
  // A refresh on the group's own template ($Default) succeeded and instances are still outdated: AWS's
  // skip matching took them for up to date. Name the version this time.
  const pin = r?.status === 'Successful' && r.desiredVersion === undefined;
  const resumed =
    r !== undefined &&
    (r.status === 'Cancelled' || r.status === 'RollbackSuccessful') &&
    r.desiredVersion === version;
  return {
    kind: 'start-refresh',
    group: g.name,
    role,
    version,
    preferences,
    ...(pin ? { pin: true as const } : {}),
    why: `${stale} of ${g.desired} ${role} not on launch template version ${version}${resumed ? ` (resuming after refresh ${r.id} ${r.status})` : ''}${pin ? ` (refresh ${r?.id} skipped them: naming version ${version})` : ''}`,
  };
}

function abortStep(o: UpgradeObserved, req: UpgradeRequest): UpgradeStep {
  const ip = o.record.inProgress;
  if (!ip) {
    const active = [o.masterRefresh, o.workerRefresh].find((r): r is RefreshView => isActive(r));
    if (active)
      return {
        kind: 'refuse',
        reasons: [
          `a refresh (${active.id}) runs but tripod has no record of starting an upgrade: cancel it in the Auto Scaling console`,
        ],
      };
    return {
      kind: 'finish',
      record: o.record,
      outcome: 'nothing-to-do',
      why: 'no upgrade in progress: nothing to abort',
    };
  }
  const groups: Array<{
    role: 'masters' | 'workers';
    g: GroupView | undefined;
    r: RefreshView | undefined;
    back: string | undefined;
  }> = [
    // Workers first: they stop getting new nodes while the masters roll back.
    { role: 'workers', g: o.workers, r: o.workerRefresh, back: ip.previousWorkerVersion },
    { role: 'masters', g: o.masters, r: o.masterRefresh, back: ip.previousMasterVersion },
  ];
  // Stop anything that still rolls forward.
  for (const { role, g, r } of groups) {
    if (!g || !r || !isActive(r)) continue;
    if (
      (r.status === 'Pending' || r.status === 'InProgress') &&
      r.desiredVersion !== undefined &&
      r.desiredVersion !== (role === 'masters' ? ip.previousMasterVersion : ip.previousWorkerVersion)
    )
      return { kind: 'rollback', group: g.name, role, why: `abort: rolling back ${role} refresh ${r.id}` };
  }
  for (const { role, g, r, back } of [...groups].reverse()) {
    if (!g || back === undefined) continue;
    if (r && isActive(r)) return { kind: 'wait', why: `abort: ${role}: ${describeRefresh(r)}` };
    if (!groupAt(g, back)) {
      if (role === 'masters') {
        const hold = quorumHold(o, req.maxStatusAgeMs);
        if (hold) return { kind: 'pause', group: g.name, cancel: false, why: `abort paused: ${hold}` };
      }
      return {
        kind: 'start-refresh',
        group: g.name,
        role,
        version: back,
        preferences:
          role === 'masters'
            ? masterRefreshPreferences(g.desired, req.instanceWarmupSeconds)
            : workerRefreshPreferences(req.workerMinHealthyPercentage, req.instanceWarmupSeconds),
        why: `abort: ${outdated(g, back).length} ${role} back to launch template version ${back}`,
      };
    }
  }
  const { inProgress: _done, ...rest } = o.record;
  return {
    kind: 'finish',
    record: rest,
    outcome: 'aborted',
    why: `rolled back: masters on launch template version ${ip.previousMasterVersion}${ip.previousWorkerVersion ? `, workers on ${ip.previousWorkerVersion}` : ''}`,
  };
}

/** The version most live instances not at `target` run (what the group ran before). */
function mostCommonVersion(g: GroupView, target: string): string {
  const counts = new Map<string, number>();
  for (const i of outdated(g, target)) counts.set(i.version, (counts.get(i.version) ?? 0) + 1);
  let best: string | undefined;
  for (const [v, n] of [...counts].sort((a, b) => a[0].localeCompare(b[0])))
    if (best === undefined || n > (counts.get(best) ?? 0)) best = v;
  return best ?? target;
}
