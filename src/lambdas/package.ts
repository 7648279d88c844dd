/**
 * How the reconciler function must be deployed: one place for the provisioner's function resource,
 * the Action (which ships dist/lambdas/reconciler.zip next to itself) and the CLI's --reconciler-zip.
 */
export const RECONCILER_PACKAGE = {
  /** index.mjs exports `handler` (src/lambdas/reconciler.ts). */
  handler: 'index.handler',
  runtime: 'nodejs22.x',
  /** Plain JavaScript, no native modules: Graviton is cheaper and starts as fast. */
  architectures: ['arm64'] as const,
  /** The single writer of etcd membership: never two passes at once. */
  reservedConcurrency: 1,
  /**
   * Long enough for a pass that snapshots etcd before a membership change and for a worker's
   * target to drain within one invocation (longer drains heartbeat the hook and continue on the
   * next trigger).
   */
  timeoutSeconds: 120,
  memoryMb: 256,
  /** Relative to the Action's own bundle (dist/action/index.js). */
  zipPathFromAction: '../lambdas/reconciler.zip',
} as const;
