/**
 * The worker group's lifecycle hooks, handled level-triggered: every pass looks at the group and
 * finishes whatever is pending, so a lost or duplicated event changes nothing.
 *  - Launching (Pending:Wait): CONTINUE once EC2 says the instance is running (the group then
 *    attaches the service target groups itself).
 *  - Terminating (Terminating:Wait): the worker drains itself (`kubectl drain` in worker.sh, which
 *    completes the hook when done). The reconciler deregisters it from every service target group
 *    (so the load balancers stop sending it new connections while pods are evicted) and heartbeats
 *    the hook while the node drains. It completes CONTINUE itself only
 *      - once the node has said it finished draining (`/tripod/<cluster>/workers/drained/<id>`,
 *        written by worker.sh just before it completes the hook: covers a lost completion), or
 *      - as a fallback, after the drain deadline: the deregistration delay plus DRAIN_GRACE_MS,
 *        counted from when the reconciler first saw the instance in Terminating:Wait
 *        (`/tripod/<cluster>/workers/leaving/<id>`, so the deadline holds across invocations).
 *    Completing any earlier would cut the node's own drain short.
 * The reconciler's records of an instance go once its hook is completed (stale ones, e.g. of a
 * worker that completed its hook itself, when the next worker leaves).
 */
import type { AwsLoadBalancerPort } from '../adapters/aws/heal-ports.js';
import { signalWriterProblem } from '../contract/protocol.js';
import type { FleetPort, ParameterPort } from '../heal/ports.js';

/** Time a worker gets to drain beyond its targets' deregistration delay before the fallback CONTINUE. */
export const DRAIN_GRACE_MS = 5 * 60_000;

/** Under this path: `leaving/<id>` (when the reconciler first saw it leave) and `drained/<id>` (the node's signal). */
export const workersParameterPath = (cluster: string) => `/tripod/${cluster}/workers/`;
export const workerLeavingParameter = (cluster: string, instanceId: string) =>
  `${workersParameterPath(cluster)}leaving/${instanceId}`;
/** Written by the worker (src/bootstrap/scripts/worker.sh) once its drain finished. */
export const workerDrainedParameter = (cluster: string, instanceId: string) =>
  `${workersParameterPath(cluster)}drained/${instanceId}`;

export interface WorkerHookDeps {
  cluster: string;
  fleet: FleetPort;
  loadBalancer: AwsLoadBalancerPort;
  parameters: ParameterPort;
  /** EC2 state of an instance (`running`, `pending`, ...), undefined when unknown. */
  instanceState(instanceId: string): Promise<string | undefined>;
  now(): number;
}

export interface WorkerHookOutcome {
  instanceId: string;
  hook: 'launching' | 'terminating';
  result: 'continued' | 'heartbeat';
  reason: string;
}

export async function settleWorkerHooks(
  deps: WorkerHookDeps,
  groupName: string,
  serviceTargetGroupArns: string[],
): Promise<WorkerHookOutcome[]> {
  const group = await deps.fleet.describeGroup(groupName);
  const outcomes: WorkerHookOutcome[] = [];

  for (const i of group.instances.filter((x) => x.lifecycleState === 'Pending:Wait')) {
    const state = await deps.instanceState(i.instanceId);
    if (state === 'running') {
      await deps.fleet.completeLifecycleAction(groupName, i.instanceId, 'launching', 'CONTINUE');
      outcomes.push({
        instanceId: i.instanceId,
        hook: 'launching',
        result: 'continued',
        reason: 'the instance is running',
      });
    } else {
      await deps.fleet.recordLifecycleHeartbeat(groupName, i.instanceId, 'launching');
      outcomes.push({
        instanceId: i.instanceId,
        hook: 'launching',
        result: 'heartbeat',
        reason: `the instance is ${state ?? 'not known to EC2 yet'}`,
      });
    }
  }

  const leaving = group.instances
    .filter((x) => x.lifecycleState === 'Terminating:Wait')
    .map((x) => x.instanceId);
  if (leaving.length === 0) return outcomes;

  // Deregister first (idempotent): the load balancers stop sending new connections while the node drains.
  for (const tg of serviceTargetGroupArns) {
    const registered = new Set((await deps.loadBalancer.describeTargets(tg)).map((t) => t.instanceId));
    for (const id of leaving) if (registered.has(id)) await deps.loadBalancer.deregisterTarget(tg, id);
  }
  let delayMs = 0;
  for (const tg of serviceTargetGroupArns) {
    delayMs = Math.max(delayMs, (await deps.loadBalancer.deregistrationDelaySeconds(tg)) * 1000);
  }

  const [records, writers] = await Promise.all([
    deps.parameters.getByPath(workersParameterPath(deps.cluster)),
    deps.parameters.writers(workersParameterPath(deps.cluster)),
  ]);
  const now = deps.now();
  const forget = async (id: string) => {
    for (const name of [workerLeavingParameter(deps.cluster, id), workerDrainedParameter(deps.cluster, id)]) {
      if (name in records) await deps.parameters.delete(name);
    }
  };
  for (const id of leaving) {
    const seen = Number(records[workerLeavingParameter(deps.cluster, id)]);
    const since = Number.isFinite(seen) && seen > 0 ? seen : now;
    if (since === now) await deps.parameters.put(workerLeavingParameter(deps.cluster, id), String(now));
    const deadline = since + delayMs + DRAIN_GRACE_MS;
    // The drained record counts only when the worker wrote it with its own session: every worker's
    // role may write every worker's record, and a forged one would cut a node's drain short.
    const drainedName = workerDrainedParameter(deps.cluster, id);
    const forged =
      drainedName in records
        ? signalWriterProblem(writers[drainedName], deps.cluster, 'worker', id)
        : undefined;
    const drained = drainedName in records && !forged;
    const ignored = forged ? ` (ignored ${drainedName}: ${forged})` : '';
    if (drained || now >= deadline) {
      await deps.fleet.completeLifecycleAction(groupName, id, 'terminating', 'CONTINUE');
      await forget(id);
      outcomes.push({
        instanceId: id,
        hook: 'terminating',
        result: 'continued',
        reason: drained
          ? 'the node drained itself'
          : `the node did not finish draining by ${new Date(deadline).toISOString()} (deregistration delay ${delayMs / 1000} s + ${DRAIN_GRACE_MS / 1000} s grace)${ignored}`,
      });
    } else {
      await deps.fleet.recordLifecycleHeartbeat(groupName, id, 'terminating');
      outcomes.push({
        instanceId: id,
        hook: 'terminating',
        result: 'heartbeat',
        reason: `the node is draining (deregistered from the service target groups; CONTINUE by ${new Date(deadline).toISOString()} at the latest)${ignored}`,
      });
    }
  }
  // Records of instances that left without us (a worker completes its own hook after draining).
  const stale = new Set(
    Object.keys(records)
      .map((name) => name.split('/').at(-1)!)
      .filter((id) => !leaving.includes(id)),
  );
  for (const id of stale) await forget(id);
  return outcomes;
}
