/**
 * The worker group's lifecycle hooks, handled level-triggered: every pass looks at the group and
 * finishes whatever is pending, so a lost or duplicated event changes nothing.
 *  - Launching (Pending:Wait): CONTINUE once EC2 says the instance is running (the group then
 *    attaches the service target groups itself); heartbeat until then.
 *  - Terminating (Terminating:Wait): the worker drains itself (`kubectl drain` in worker.sh, which
 *    completes the hook when done). The reconciler deregisters it from every service target group
 *    (so the load balancers stop sending it new connections while pods are evicted) and heartbeats
 *    the hook while the node drains. It completes CONTINUE itself only
 *      - once the node has said it finished draining (`/tripod/<cluster>/workers/drained/<id>`,
 *        written by worker.sh with its own session just before it completes the hook: covers a
 *        lost completion), or
 *      - as a fallback, after the drain deadline: the deregistration delay plus DRAIN_GRACE_MS,
 *        counted from when the reconciler first saw the instance in Terminating:Wait
 *        (`/tripod/<cluster>/workers/leaving/<id>`, so the deadline holds across invocations).
 *    Completing any earlier would cut the node's own drain short.
 * The reconciler's records of an instance go once its hook is completed (stale ones, e.g. of a
 * worker that completed its hook itself, when the next worker leaves).
 *
 * `planWorkerHooks` decides (pure, over what was read); `settleWorkerHooks` reads through the
 * WorkerHookPort, plans and carries the plan out. The Lambda provides the port from the AWS adapters.
 */
import { signalWriterProblem } from '../contract/protocol.js';
import type { LifecycleHook } from './actions.js';
import type { WorkerHookPort } from './ports.js';

/** Time a worker gets to drain beyond its targets' deregistration delay before the fallback CONTINUE. */
export const DRAIN_GRACE_MS = 5 * 60_000;

/** Under this path: `leaving/<id>` (when the reconciler first saw it leave) and `drained/<id>` (the node's signal). */
export const workersParameterPath = (cluster: string) => `/tripod/${cluster}/workers/`;
export const workerLeavingParameter = (cluster: string, instanceId: string) =>
  `${workersParameterPath(cluster)}leaving/${instanceId}`;
/** Written by the worker (src/bootstrap/scripts/worker.sh) once its drain finished. */
export const workerDrainedParameter = (cluster: string, instanceId: string) =>
  `${workersParameterPath(cluster)}drained/${instanceId}`;

export interface WorkerHookOutcome {
  instanceId: string;
  hook: LifecycleHook;
  result: 'continued' | 'heartbeat';
  reason: string;
}

/** What a pass read about the worker group's hooks. */
export interface WorkerHooksView {
  cluster: string;
  now: number;
  /** Instances in Pending:Wait, with their EC2 state (undefined: EC2 does not know it yet). */
  launching: ReadonlyArray<{ instanceId: string; state: string | undefined }>;
  /** Instances in Terminating:Wait. */
  leaving: readonly string[];
  /** The service target groups (read only when a worker leaves): who is registered, and the deregistration delay. */
  targetGroups: ReadonlyArray<{ arn: string; registered: readonly string[]; delaySeconds: number }>;
  /** The parameters under workersParameterPath (read only when a worker leaves): name -> value. */
  records: Readonly<Record<string, string>>;
  /** Who last wrote each of those parameters (SSM's LastModifiedUser). */
  writers: Readonly<Record<string, string | undefined>>;
}

/**
 * What to do, in order: a hook step completes the hook (CONTINUE) when its outcome is `continued`
 * and records a heartbeat when it is `heartbeat`.
 */
export type WorkerHookStep =
  | { kind: 'hook'; outcome: WorkerHookOutcome }
  | { kind: 'deregister'; targetGroupArn: string; instanceId: string }
  | { kind: 'put'; name: string; value: string }
  | { kind: 'delete'; name: string };

export function planWorkerHooks(view: WorkerHooksView): WorkerHookStep[] {
  const { cluster, now, records } = view;
  const steps: WorkerHookStep[] = [];
  const settle = (instanceId: string, hook: LifecycleHook, continued: boolean | undefined, reason: string) =>
    steps.push({
      kind: 'hook',
      outcome: { instanceId, hook, result: continued ? 'continued' : 'heartbeat', reason },
    });

  for (const { instanceId, state } of view.launching) {
    const running = state === 'running';
    settle(
      instanceId,
      'launching',
      running,
      running ? 'the instance is running' : `the instance is ${state ?? 'not known to EC2 yet'}`,
    );
  }
  if (view.leaving.length === 0) return steps;

  // Deregister first (idempotent): the load balancers stop sending new connections while the node drains.
  for (const tg of view.targetGroups) {
    for (const id of view.leaving) {
      if (tg.registered.includes(id))
        steps.push({ kind: 'deregister', targetGroupArn: tg.arn, instanceId: id });
    }
  }
  const delayMs = Math.max(0, ...view.targetGroups.map((tg) => tg.delaySeconds * 1000));
  const forget = (id: string) => {
    for (const name of [workerLeavingParameter(cluster, id), workerDrainedParameter(cluster, id)]) {
      if (name in records) steps.push({ kind: 'delete', name });
    }
  };

  for (const id of view.leaving) {
    const leavingName = workerLeavingParameter(cluster, id);
    const seen = Number(records[leavingName]);
    const firstSight = !(Number.isFinite(seen) && seen > 0);
    if (firstSight) steps.push({ kind: 'put', name: leavingName, value: String(now) });
    const deadline = (firstSight ? now : seen) + delayMs + DRAIN_GRACE_MS;
    const by = new Date(deadline).toISOString();
    // The drained record counts only when the worker wrote it with its own session: every worker's
    // role may write every worker's record, and a forged one would cut a node's drain short.
    const drainedName = workerDrainedParameter(cluster, id);
    const written = drainedName in records;
    const forged = written
      ? signalWriterProblem(view.writers[drainedName], cluster, 'worker', id)
      : undefined;
    const drained = written && !forged;
    const ignored = forged ? ` (ignored ${drainedName}: ${forged})` : '';
    const continued = drained || now >= deadline;
    settle(
      id,
      'terminating',
      continued,
      drained
        ? 'the node drained itself'
        : continued
          ? `the node did not finish draining by ${by} (deregistration delay ${delayMs / 1000} s + ${DRAIN_GRACE_MS / 1000} s grace)${ignored}`
          : `the node is draining (deregistered from the service target groups; CONTINUE by ${by} at the latest)${ignored}`,
    );
    if (continued) forget(id);
  }
  // Records of instances that left without us (a worker completes its own hook after draining).
  const stale = new Set(
    Object.keys(records)
      .map((name) => name.split('/').at(-1)!)
      .filter((id) => !view.leaving.includes(id)),
  );
  for (const id of stale) forget(id);
  return steps;
}

/** Reads the worker group's hooks through the port, plans, and carries the plan out in order. */
export async function settleWorkerHooks(
  port: WorkerHookPort,
  cluster: string,
  groupName: string,
  serviceTargetGroupArns: readonly string[],
): Promise<WorkerHookOutcome[]> {
  // Only the group's own instances: tripod puts no warm pool on the worker group (provision/warm-pool.ts).
  const group = await port.fleet.describeGroup(groupName, { warmPool: false });
  const waiting = group.instances.filter((x) => x.lifecycleState === 'Pending:Wait').map((x) => x.instanceId);
  const states = waiting.length > 0 ? await port.instanceStates(waiting) : {};
  const launching = waiting.map((instanceId) => ({ instanceId, state: states[instanceId] }));
  const leaving = group.instances
    .filter((x) => x.lifecycleState === 'Terminating:Wait')
    .map((x) => x.instanceId);
  const targetGroups: Array<WorkerHooksView['targetGroups'][number]> = [];
  let records: Record<string, string> = {};
  let writers: Record<string, string | undefined> = {};
  if (leaving.length > 0) {
    for (const arn of serviceTargetGroupArns) {
      const registered = (await port.loadBalancer.describeTargets(arn)).map((t) => t.instanceId);
      targetGroups.push({
        arn,
        registered,
        delaySeconds: await port.loadBalancer.deregistrationDelaySeconds(arn),
      });
    }
    [records, writers] = await Promise.all([
      port.parameters.getByPath(workersParameterPath(cluster)),
      port.parameters.writers(workersParameterPath(cluster)),
    ]);
  }
  const view: WorkerHooksView = {
    cluster,
    now: port.clock.now(),
    launching,
    leaving,
    targetGroups,
    records,
    writers,
  };
  const outcomes: WorkerHookOutcome[] = [];
  for (const step of planWorkerHooks(view)) {
    if (step.kind === 'hook') {
      const { instanceId, hook, result } = step.outcome;
      if (result === 'continued') {
        await port.fleet.completeLifecycleAction(groupName, instanceId, hook, 'CONTINUE');
      } else await port.fleet.recordLifecycleHeartbeat(groupName, instanceId, hook);
      outcomes.push(step.outcome);
    } else if (step.kind === 'deregister') {
      await port.loadBalancer.deregisterTarget(step.targetGroupArn, step.instanceId);
    } else if (step.kind === 'put') await port.parameters.put(step.name, step.value);
    else await port.parameters.delete(step.name);
  }
  return outcomes;
}
