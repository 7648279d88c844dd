/**
 * The worker group: one Auto Scaling group over all zones, registered in the service target groups.
 * `desired` is only owned when the spec sets it; otherwise an autoscaler may move it within min..max.
 *
 * Hook choices (the reconciler's side is src/heal/worker-hooks.ts, the node's worker.sh):
 * - Launching, DefaultResult CONTINUE, heartbeat `reconciler.lifecycleHeartbeatSeconds`: completed
 *   CONTINUE by the reconciler once EC2 says the instance runs, and by worker.sh once it joined. A
 *   worker holds no quorum: if neither answers, capacity must not be lost, so the default continues.
 * - Terminating, DefaultResult CONTINUE, heartbeat `workerDrainSeconds + DRAIN_MARGIN_SECONDS`: the
 *   wait is the node's `kubectl drain` (worker.sh, bounded by `workerDrainSeconds`); the reconciler
 *   heartbeats it and continues it once the node drained. The heartbeat timeout outlasts the node's
 *   own drain deadline, so even with the reconciler down a drain is never cut short by the hook, and
 *   the termination still happens after it.
 */
import type { LifecycleHookSpec } from '../adapters/aws/autoscaling.js';
import type { ClusterSpec } from '../cluster-spec/schema.js';
import { resourceNames } from '../contract/names.js';
import { ROLE_TAG } from '../contract/protocol.js';
import { DRAIN_MARGIN_SECONDS, workerDrainSeconds } from '../contract/worker-drain.js';
import type { DesiredGroup } from './auto-scaling-group.js';
import { ownerTags } from './resource.js';

export function workerHooks(spec: ClusterSpec): LifecycleHookSpec[] {
  const names = resourceNames(spec.name);
  return [
    {
      name: names.workerLaunchingHook,
      transition: 'autoscaling:EC2_INSTANCE_LAUNCHING',
      heartbeatTimeout: spec.reconciler.lifecycleHeartbeatSeconds,
      defaultResult: 'CONTINUE',
    },
    {
      name: names.workerTerminatingHook,
      transition: 'autoscaling:EC2_INSTANCE_TERMINATING',
      heartbeatTimeout: workerDrainSeconds(spec) + DRAIN_MARGIN_SECONDS,
      defaultResult: 'CONTINUE',
    },
  ];
}

export function desiredWorkerGroup(spec: ClusterSpec, subnets: string[]): DesiredGroup {
  return {
    role: 'workers',
    name: resourceNames(spec.name).workerGroup,
    min: spec.workers.min,
    max: spec.workers.max,
    desired: spec.workers.desired,
    zones: [...spec.network.zones],
    subnets,
    launchTemplate: 'lt/workers',
    targetGroups: spec.serviceEndpoint.ports.map((p) => `tg/svc-${p.port}`),
    hooks: workerHooks(spec),
    tags: { ...ownerTags(spec), [ROLE_TAG]: 'workers' },
  };
}
