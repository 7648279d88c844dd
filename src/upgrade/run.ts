/**
 * Runs an upgrade: look (observe), decide the next step (plan.ts, pure), act on the Auto Scaling
 * groups, print what changed, repeat until the upgrade completes, is refused, fails, or the time
 * bound passes. Every run starts from what AWS and the record say, so a re-run resumes an upgrade a
 * cut-off run left, and `abort` (remembered in the record) rolls it back.
 */
import type { UpgradeObserved, UpgradeRecord } from './model.js';
import { liveInstances } from './model.js';
import { nextStep, type UpgradeRequest, type UpgradeStep } from './plan.js';
import type { UpgradePort } from './ports.js';
import type { PreflightResult } from './preflight.js';
import {
  formatElapsed,
  instanceChanges,
  marginText,
  pairReplacements,
  type Replacement,
  replacementTable,
} from './report.js';

export type UpgradeResult =
  | 'completed'
  | 'aborted'
  | 'nothing-to-do'
  | 'refused'
  | 'failed'
  | 'timed-out'
  | 'interrupted';

export interface UpgradeOutcome {
  result: UpgradeResult;
  message: string;
  /** True when the run ended while paused (quorum margin 0): a re-run resumes. */
  paused: boolean;
  replacements: Replacement[];
  /** Markdown table of old -> new instances. */
  table: string;
  elapsedMs: number;
  preflight?: PreflightResult;
}

/** Whether an outcome leaves the cluster where it was asked to be (the step succeeds). */
export const upgradeSucceeded = (o: Pick<UpgradeOutcome, 'result'>): boolean =>
  o.result === 'completed' || o.result === 'aborted' || o.result === 'nothing-to-do';

export interface RunOptions {
  timeoutMs: number;
  /** Time between looks (default 15 s). */
  pollMs?: number;
  /** Stops the run between two looks (the run is "cut off"; nothing is rolled back). */
  signal?: AbortSignal;
  onProgress(line: string): void;
}

export async function observeUpgrade(port: UpgradePort, req: UpgradeRequest): Promise<UpgradeObserved> {
  // Refreshes before groups: a refresh seen Successful is never paired with an older group listing
  // (that would start a needless second refresh).
  const noCluster = () =>
    new UpgradeError(
      `cluster ${req.cluster}: there is no Auto Scaling group ${req.masterGroup}. Run apply first.`,
    );
  const [masterRefreshes, workerRefreshes, status, record] = await Promise.all([
    port.describeRefreshes(req.masterGroup).catch(async (e: unknown) => {
      // A missing group is the clearer message (AWS may answer either way for a group that is not there).
      const group = await port.describeGroup(req.masterGroup).catch(() => null);
      throw group === undefined ? noCluster() : e;
    }),
    port.describeRefreshes(req.workerGroup).catch(() => []),
    port.readStatus(req.cluster),
    port.readRecord(req.cluster),
  ]);
  const [masters, workers] = await Promise.all([
    port.describeGroup(req.masterGroup),
    port.describeGroup(req.workerGroup),
  ]);
  if (!masters) throw noCluster();
  const running =
    record.kubernetesVersion === undefined
      ? await port.runningKubernetesVersion(req.cluster, req.masterGroup)
      : undefined;
  return {
    now: port.now(),
    masters,
    workers,
    masterRefresh: masterRefreshes[0],
    workerRefresh: workerRefreshes[0],
    status,
    record,
    runningKubernetesVersion: running,
  };
}

const errorText = (e: unknown) => `${(e as Error)?.name ?? ''} ${(e as Error)?.message ?? String(e)}`;

/** StartInstanceRefresh while one runs: `InstanceRefreshInProgress`. */
export const isRefreshInProgress = (e: unknown): boolean =>
  /InstanceRefreshInProgress|already in progress/i.test(errorText(e));

/** Cancelling a refresh that already ended (`ActiveInstanceRefreshNotFound`) is what we wanted. */
function ignoreNoActiveRefresh(e: unknown): void {
  if (!/ActiveInstanceRefreshNotFound|No in progress or pending Instance Refresh/i.test(errorText(e)))
    throw e;
}

/** Something the user can fix (no stack trace). */
export class UpgradeError extends Error {
  override name = 'UpgradeError';
}

export async function runUpgrade(
  port: UpgradePort,
  req: UpgradeRequest,
  opts: RunOptions,
): Promise<UpgradeOutcome> {
  const start = port.now();
  const pollMs = opts.pollMs ?? 15_000;
  const say = (line: string) => opts.onProgress(`${formatElapsed(port.now() - start)} ${line}`);
  let first: UpgradeObserved | undefined;
  let last: UpgradeObserved | undefined;
  let lastWhy = '';
  let paused = false;
  let preflightResult: PreflightResult | undefined;

  const end = (result: UpgradeResult, message: string): UpgradeOutcome => {
    const replacements: Replacement[] = [];
    if (first && last) {
      for (const role of ['masters', 'workers'] as const) {
        const a = role === 'masters' ? first.masters : first.workers;
        const b = role === 'masters' ? last.masters : last.workers;
        if (!a || !b) continue;
        // New: live at the end and not already InService at the first look (a replacement that was
        // still launching when a resumed run started counts as new).
        const before = new Set(
          a.instances.filter((i) => i.lifecycleState === 'InService').map((i) => i.instanceId),
        );
        const after = new Set(liveInstances(b).map((i) => i.instanceId));
        replacements.push(
          ...pairReplacements(
            role,
            a.instances.filter((i) => !after.has(i.instanceId)),
            liveInstances(b).filter((i) => !before.has(i.instanceId)),
          ),
        );
      }
    }
    return {
      result,
      message,
      paused: paused && result !== 'completed' && result !== 'aborted',
      replacements,
      table: replacementTable(replacements),
      elapsedMs: port.now() - start,
      ...(preflightResult ? { preflight: preflightResult } : {}),
    };
  };

  for (;;) {
    if (opts.signal?.aborted)
      return end('interrupted', `interrupted at: ${lastWhy || 'the start'}; re-run to resume`);
    const o = await observeUpgrade(port, req);
    first ??= o;
    for (const line of instanceChanges('masters', last?.masters, o.masters, o.status))
      say(`${line}; ${marginText(o.status)}`);
    if (o.workers)
      for (const line of instanceChanges('workers', last?.workers, o.workers, o.status)) say(line);
    last = o;

    let record: UpgradeRecord = o.record;
    if (req.abort && record.inProgress && !record.inProgress.aborting) {
      record = { ...record, inProgress: { ...record.inProgress, aborting: true } };
      await port.writeRecord(req.cluster, record);
      say(`abort: the upgrade to Kubernetes ${record.inProgress?.kubernetesVersion} is rolled back`);
      continue;
    }
    const step: UpgradeStep = nextStep(o, req);
    const why = 'why' in step ? step.why : '';
    paused = step.kind === 'pause';
    switch (step.kind) {
      case 'refuse':
        if (step.preflight) preflightResult = step.preflight;
        return end(
          'refused',
          `upgrade refused, nothing was changed:\n${step.reasons.map((r) => `  - ${r}`).join('\n')}`,
        );
      case 'fail':
        return end('failed', step.reason);
      case 'finish':
        if (JSON.stringify(step.record) !== JSON.stringify(o.record))
          await port.writeRecord(req.cluster, step.record);
        say(`${step.outcome}: ${step.why}`);
        return end(step.outcome, step.why);
      case 'begin': {
        preflightResult = step.preflight;
        for (const c of step.preflight.checks)
          say(`preflight ${c.ok ? 'ok' : 'FAILED'}: ${c.name}: ${c.detail}`);
        for (const w of step.preflight.warnings) say(`preflight warning: ${w}`);
        await port.writeRecord(req.cluster, step.record);
        const ip = step.record.inProgress;
        say(
          `upgrade to Kubernetes ${req.kubernetesVersion} begins: masters v${ip?.previousMasterVersion} -> v${ip?.masterVersion}` +
            (ip?.workerVersion ? `, workers v${ip.previousWorkerVersion} -> v${ip.workerVersion}` : ''),
        );
        continue;
      }
      case 'start-refresh': {
        let id: string;
        try {
          id = await port.startRefresh(
            step.group,
            step.version,
            step.preferences,
            step.pin ? { pin: true } : undefined,
          );
        } catch (e) {
          // Another run (or a person) started one between our look and our call: watch that one.
          if (!isRefreshInProgress(e)) throw e;
          say(`${step.role}: a refresh is already in progress (${(e as Error).message}); watching it`);
          break;
        }
        say(
          `${step.role}: instance refresh ${id} started (min healthy ${step.preferences.minHealthyPercentage}%, max ${step.preferences.maxHealthyPercentage}%): ${step.why}`,
        );
        lastWhy = `${step.role} refresh ${id}`;
        break;
      }
      case 'rollback':
        try {
          await port.rollbackRefresh(step.group);
          say(`${step.why}: rollback started`);
        } catch (e) {
          say(`${step.why}: rollback refused (${(e as Error).message}); cancelling, then refreshing back`);
          await port.cancelRefresh(step.group).catch(ignoreNoActiveRefresh);
        }
        break;
      case 'pause':
        if (step.cancel) await port.cancelRefresh(step.group).catch(ignoreNoActiveRefresh);
        if (why !== lastWhy) say(`${why}; ${marginText(o.status)}`);
        lastWhy = why;
        break;
      case 'wait':
        if (why !== lastWhy) say(`${why}; ${marginText(o.status)}`);
        lastWhy = why;
        break;
    }
    if (port.now() - start >= opts.timeoutMs) {
      return end(
        'timed-out',
        `the upgrade did not finish within ${Math.round(opts.timeoutMs / 60_000)} min; it was at: ${lastWhy || 'its first step'}. Nothing is rolled back: re-run to resume, or abort.`,
      );
    }
    await port.sleep(pollMs, opts.signal);
  }
}
