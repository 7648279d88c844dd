/**
 * The worker group: one Auto Scaling group over all zones, registered in the service target groups.
 * `desired` is only owned when the spec sets it; otherwise an autoscaler may move it within min..max.
 */
import { ROLE_TAG } from '../heal/protocol.js';
import type { ClusterSpec } from '../spec/schema.js';
import type { DesiredGroup } from './auto-scaling-group.js';
import { resourceNames } from './names.js';
import { ownerTags } from './resource.js';

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
    hooks: undefined,
    tags: { ...ownerTags(spec), [ROLE_TAG]: 'workers' },
  };
}
