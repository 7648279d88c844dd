/** The upgrade request a spec makes (one place for the CLI and the Action). */

import type { ClusterSpec } from '../cluster-spec/schema.js';
import { deriveTopology } from '../cluster-spec/topology.js';
import { resourceNames } from '../contract/names.js';
import type { UpgradeRequest } from './plan.js';

export function upgradeRequestFromSpec(spec: ClusterSpec, options: { abort: boolean }): UpgradeRequest {
  const names = resourceNames(spec.name);
  return {
    cluster: spec.name,
    masterGroup: names.masterGroup,
    workerGroup: names.workerGroup,
    expectedMasters: deriveTopology(spec).masters,
    zones: [...spec.network.zones],
    kubernetesVersion: spec.kubernetesVersion,
    workerMinHealthyPercentage: spec.upgrade.workerMinHealthyPercentage,
    abort: options.abort,
  };
}
