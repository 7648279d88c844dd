/**
 * The worker group's lifecycle hooks, handled level-triggered: every pass looks at the group and
 * finishes whatever is pending, so a lost or duplicated event changes nothing.
 *  - Launching (Pending:Wait): CONTINUE once EC2 says the instance is running (the group then
 *    attaches the service target groups itself).
 *  - Terminating (Terminating:Wait): deregister from every service target group, wait until the
 *    targets have drained (bounded by the deregistration delay and the time this invocation has
 *    left, heartbeating the hook meanwhile), then CONTINUE. A drain that outlasts the invocation is
 *    picked up by the next trigger (the schedule fires every minute).
 */
import type { EC2Client } from '@aws-sdk/client-ec2';
import { type AwsLoadBalancerPort, describeInstance } from '../adapters/aws/heal-ports.js';
import type { FleetPort } from '../heal/ports.js';

export interface WorkerHookDeps {
  fleet: FleetPort;
  loadBalancer: AwsLoadBalancerPort;
  /** EC2 state of an instance (`running`, `pending`, ...), undefined when unknown. */
  instanceState(instanceId: string): Promise<string | undefined>;
  now(): number;
  sleep(ms: number): Promise<void>;
  /** Milliseconds this invocation may still spend waiting. */
  remainingMs(): number;
  /** Poll interval while targets drain. */
  pollMs?: number;
}

export interface WorkerHookOutcome {
  instanceId: string;
  hook: 'launching' | 'terminating';
  result: 'continued' | 'heartbeat';
  reason: string;
}

/** Safety margin kept for the rest of the invocation (status, metrics, logs). */
const MARGIN_MS = 5000;

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

  // Deregister everything first (idempotent), so every target drains at the same time.
  for (const tg of serviceTargetGroupArns) {
    const registered = new Set((await deps.loadBalancer.describeTargets(tg)).map((t) => t.instanceId));
    for (const id of leaving) if (registered.has(id)) await deps.loadBalancer.deregisterTarget(tg, id);
  }
  let delayMs = 0;
  for (const tg of serviceTargetGroupArns) {
    delayMs = Math.max(delayMs, (await deps.loadBalancer.deregistrationDelaySeconds(tg)) * 1000);
  }
  const deadline = deps.now() + Math.min(delayMs, Math.max(0, deps.remainingMs() - MARGIN_MS));
  const pollMs = deps.pollMs ?? 5000;
  let pending = new Set(leaving);
  for (;;) {
    const still = new Set<string>();
    for (const tg of serviceTargetGroupArns) {
      for (const t of await deps.loadBalancer.describeTargets(tg)) {
        if (pending.has(t.instanceId) && t.health !== 'unused') still.add(t.instanceId);
      }
    }
    for (const id of pending) {
      if (still.has(id)) continue;
      await deps.fleet.completeLifecycleAction(groupName, id, 'terminating', 'CONTINUE');
      outcomes.push({
        instanceId: id,
        hook: 'terminating',
        result: 'continued',
        reason: 'deregistered from the service target groups and drained',
      });
    }
    pending = still;
    if (pending.size === 0 || deps.now() + pollMs > deadline) break;
    await deps.sleep(pollMs);
  }
  for (const id of pending) {
    await deps.fleet.recordLifecycleHeartbeat(groupName, id, 'terminating');
    outcomes.push({
      instanceId: id,
      hook: 'terminating',
      result: 'heartbeat',
      reason: 'still draining from the service target groups',
    });
  }
  return outcomes;
}

/** EC2 state through the same DescribeInstances the fleet port uses. */
export function ec2InstanceState(ec2: EC2Client) {
  return async (instanceId: string): Promise<string | undefined> =>
    (await describeInstance(ec2, instanceId))?.state;
}
