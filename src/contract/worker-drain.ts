/**
 * The worker's leaving, agreed between the node's drain (worker.sh, TRIPOD_DRAIN_TIMEOUT in node.env)
 * and the terminating hook the provisioner makes (src/provision/worker-group.ts).
 */
import type { ClusterSpec } from '../cluster-spec/schema.js';

/** Time the node gives `kubectl drain` before it completes its terminating hook anyway. */
export const workerDrainSeconds = (spec: ClusterSpec) =>
  Math.max(spec.reconciler.lifecycleHeartbeatSeconds - 60, 60);
/** The terminating hook outlasts the drain by this much (the node still has to complete the action). */
export const DRAIN_MARGIN_SECONDS = 60;
