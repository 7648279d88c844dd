/**
 * Apply: carries out a plan in its order (creates, updates and replacements in dependency order, then
 * deletes in reverse), waiting for what must be ready (NAT gateways available, load balancers active,
 * groups deleted) with bounded timeouts. Every step is idempotent against a fresh plan: an apply
 * interrupted half-way leaves tagged resources that the next plan finds and completes.
 *
 * Destroy is a plan with nothing desired, applied, plus a sweep of Elastic IPs left unassociated.
 */
import type { AwsClients } from '../adapters/aws/clients.js';
import type { ClusterSpec } from '../cluster-spec/schema.js';
import { isDependencyError, releaseFreeElasticIps } from './network.js';
import { sweepParameters } from './parameters.js';
import {
  kindOf,
  type Plan,
  type PlannedChange,
  type PlanOptions,
  type PlanState,
  planCluster,
} from './plan.js';

export interface ProgressEvent {
  /** A heading per resource kind group (network, instances, ...). */
  group: string;
  message: string;
}

export interface ApplyOptions {
  allowDestructive?: boolean;
  onProgress?: (e: ProgressEvent) => void;
  signal?: AbortSignal;
  /** Epoch ms: stop waiting on dependencies by then (the caller's timeout), and say to run again. */
  deadline?: number;
}

/** Apply refused or failed for a reason the user can act on. */
export class ProvisionError extends Error {
  override name = 'ProvisionError';
}

export interface ApplyResult {
  applied: PlannedChange[];
  plan: Plan;
}

const verb: Record<PlannedChange['action'], string> = {
  create: 'creating',
  update: 'updating',
  replace: 'replacing',
  delete: 'deleting',
};

/** Refuses plans with conflicts, or destructive changes without allowDestructive. */
export function checkApplicable(plan: Plan, allowDestructive: boolean): void {
  if (plan.conflicts.length) {
    throw new ProvisionError(
      `cannot apply: ${plan.conflicts.length} conflict(s):\n${plan.conflicts.map((c) => `  - ${c}`).join('\n')}`,
    );
  }
  if (plan.mode === 'apply' && plan.destructive.length && !allowDestructive) {
    throw new ProvisionError(
      `refusing destructive change(s) (run again with --allow-destructive if you mean it):\n${plan.destructive
        .map((d) => `  - ${d}`)
        .join('\n')}`,
    );
  }
}

export async function applyPlan(state: PlanState, options: ApplyOptions = {}): Promise<ApplyResult> {
  const { plan, context: ctx } = state;
  checkApplicable(plan, options.allowDestructive ?? false);
  const desired = new Map((state.desired?.resources ?? []).map((d) => [d.key, d]));
  const applied: PlannedChange[] = [];
  const failed = (change: PlannedChange, e: unknown) =>
    new ProvisionError(
      `${verb[change.action]} ${change.title} failed: ${(e as Error).message}\n${applied.length} of ${plan.changes.length} change(s) were applied; fix the cause and run ${plan.mode} again to finish`,
      { cause: e },
    );
  const run = async (change: PlannedChange) => {
    const emit = (message: string) => options.onProgress?.({ group: change.group, message });
    ctx.progress = emit;
    const kind = kindOf(change.kind);
    const started = Date.now();
    emit(`${verb[change.action]} ${change.title}${change.id ? ` (${change.id})` : ''}`);
    if (change.action === 'delete') {
      const f = state.found.get(change.key)!;
      await kind.delete(ctx, f);
      ctx.refs.forget(change.key);
    } else {
      const d = desired.get(change.key)!;
      if (change.action === 'replace') {
        await kind.delete(ctx, state.found.get(change.key)!);
      }
      if (change.action === 'update') {
        const updated = await kind.update(ctx, d, state.found.get(change.key)!);
        if (updated) ctx.refs.set(change.key, updated.attrs);
      } else {
        const made = await kind.create(ctx, d);
        ctx.refs.set(change.key, made.attrs);
        state.found.set(change.key, made);
      }
    }
    emit(
      `${change.action === 'delete' ? 'deleted' : `${change.action}d`} ${change.title} in ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
    applied.push(change);
  };

  // Deletes that something still uses (a subnet or security group with the reconciler's network
  // interfaces, which Lambda releases long after the function is gone) are put off: everything else
  // goes first, then they are retried until the caller's deadline.
  const deferred: PlannedChange[] = [];
  for (const change of plan.changes) {
    if (options.signal?.aborted)
      throw new ProvisionError(`${plan.mode} was cancelled; run it again to finish`);
    ctx.deadline = change.action === 'delete' ? 0 : options.deadline;
    try {
      await run(change);
    } catch (e) {
      if (change.action === 'delete' && isDependencyError(e)) {
        ctx.progress(`${change.title} is still in use: deleting the rest first`);
        deferred.push(change);
        continue;
      }
      throw failed(change, e);
    }
  }
  ctx.deadline = options.deadline;
  for (const change of deferred) {
    if (options.signal?.aborted)
      throw new ProvisionError(`${plan.mode} was cancelled; run it again to finish`);
    try {
      await run(change);
    } catch (e) {
      if (!isDependencyError(e)) throw failed(change, e);
      const left = deferred.filter((c) => !applied.includes(c)).map((c) => c.title);
      throw new ProvisionError(
        `${left.join(', ')} ${left.length === 1 ? 'is' : 'are'} still in use${options.deadline !== undefined ? ' at the deadline' : ''} (most likely by the reconciler function's network interfaces, which Lambda releases some time after the function is deleted). ${applied.length} of ${plan.changes.length} change(s) were applied; run ${plan.mode} again later to finish: it deletes only what is left (${(e as Error).message})`,
        { cause: e },
      );
    }
  }
  return { applied, plan };
}

/** Plans and applies in one go (what `tripod apply` does without a saved plan). */
export async function apply(
  aws: AwsClients,
  spec: ClusterSpec,
  options: ApplyOptions & PlanOptions = {},
): Promise<ApplyResult> {
  const state = await planCluster(aws, spec, options);
  return applyPlan(state, options);
}

/**
 * Removes everything carrying the cluster's tags, in reverse dependency order. Pass the destroy plan
 * that was shown (`planCluster(aws, spec, { destroy: true })`) so exactly that is deleted, without
 * reading the account a second time.
 */
export async function destroy(
  aws: AwsClients,
  spec: ClusterSpec,
  options: Omit<ApplyOptions, 'allowDestructive'> &
    Pick<PlanOptions, 'timeouts'> & { shown?: PlanState } = {},
): Promise<ApplyResult> {
  const state =
    options.shown ??
    (await planCluster(aws, spec, {
      destroy: true,
      ...(options.timeouts ? { timeouts: options.timeouts } : {}),
    }));
  const result = await applyPlan(state, { ...options, allowDestructive: true });
  for (const w of state.plan.warnings.filter((x) => x.startsWith('keeping backup bucket')))
    options.onProgress?.({ group: 'backups', message: w });
  // what was written under the cluster's path while destroy ran (a draining node, a last status)
  const swept = await sweepParameters(aws, spec.name);
  if (swept.length)
    options.onProgress?.({
      group: 'configuration',
      message: `deleted ${swept.length} parameter(s) written while destroying: ${swept.join(', ')}`,
    });
  const released = await releaseFreeElasticIps(state.context);
  if (released)
    options.onProgress?.({ group: 'network', message: `released ${released} unused Elastic IP(s)` });
  return result;
}
