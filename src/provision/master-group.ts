/**
 * The master group: one Auto Scaling group over all zone subnets with min = max = desired = M, the
 * API target group attached, and two lifecycle hooks.
 *
 * Hook choices:
 * - Launching, DefaultResult ABANDON, heartbeat `reconciler.lifecycleHeartbeatSeconds`: a new master
 *   is only put in service once the reconciler has made it an etcd member and its API server is
 *   ready (it completes the action with CONTINUE). If the reconciler never confirms it (boot failed,
 *   reconciler down), the safe outcome is to throw the instance away, not to let an unjoined master
 *   into the API target group: ABANDON terminates it and the group launches another.
 * - Terminating, DefaultResult CONTINUE, same heartbeat: the wait gives the reconciler time to remove
 *   the member from etcd before the instance goes (keeping quorum arithmetic honest). If the
 *   reconciler is down, termination must still happen (AWS is replacing a dead or rebalanced
 *   instance); a member left behind is removed by the reconciler's next pass as a dead member.
 *
 * Destructive (refused without allowDestructive): deleting or replacing the group, shrinking M, and
 * a subnet change that would take away more masters at once than the cluster can lose.
 */
import type { LifecycleHookSpec } from '../adapters/aws/autoscaling.js';
import type { ClusterSpec } from '../cluster-spec/schema.js';
import type { Topology } from '../cluster-spec/topology.js';
import { resourceNames } from '../contract/names.js';
import { ROLE_TAG } from '../contract/protocol.js';
import type { ActualGroup, DesiredGroup } from './auto-scaling-group.js';
import { ownerTags } from './resource.js';

export function masterHooks(spec: ClusterSpec): LifecycleHookSpec[] {
  const names = resourceNames(spec.name);
  const heartbeatTimeout = spec.reconciler.lifecycleHeartbeatSeconds;
  return [
    {
      name: names.masterLaunchingHook,
      transition: 'autoscaling:EC2_INSTANCE_LAUNCHING',
      heartbeatTimeout,
      defaultResult: 'ABANDON',
    },
    {
      name: names.masterTerminatingHook,
      transition: 'autoscaling:EC2_INSTANCE_TERMINATING',
      heartbeatTimeout,
      defaultResult: 'CONTINUE',
    },
  ];
}

/** Why a change to the master group would cost etcd members or quorum, or undefined when it is safe. */
export function masterGroupGuard(topology: Topology) {
  return (d: DesiredGroup, a: ActualGroup): string | undefined => {
    const g = a.group;
    if (d.desired !== undefined && g.desired > d.desired) {
      return `shrinks the masters from ${g.desired} to ${d.desired}: etcd members are removed`;
    }
    const zones = new Set(d.zones);
    const leaving = g.instances.filter((i) => i.zone && !zones.has(i.zone));
    if (leaving.length > topology.faultTolerance) {
      const lost = [...new Set(leaving.map((i) => i.zone))].join(', ');
      return `drops zone(s) ${lost} holding ${leaving.length} of ${g.instances.length} masters: more than the ${topology.faultTolerance} the cluster can lose while keeping quorum ${topology.quorum}`;
    }
    return undefined;
  };
}

export function desiredMasterGroup(spec: ClusterSpec, topology: Topology, subnets: string[]): DesiredGroup {
  const names = resourceNames(spec.name);
  return {
    role: 'masters',
    name: names.masterGroup,
    min: topology.masters,
    max: topology.masters,
    desired: topology.masters,
    zones: [...spec.network.zones],
    subnets,
    launchTemplate: 'lt/masters',
    targetGroups: [
      'tg/api',
      ...(spec.masters.schedulable ? spec.serviceEndpoint.ports.map((p) => `tg/svc-${p.port}`) : []),
    ],
    hooks: masterHooks(spec),
    tags: { ...ownerTags(spec), [ROLE_TAG]: 'masters' },
    guard: masterGroupGuard(topology),
  };
}
