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
  /**
   * Asynchronous (EventBridge) events: with reserved concurrency 1, throttled events queue and
   * Lambda retries them for up to 6 hours by default, so fresh events wait behind stale ones. The
   * reconciler is level-triggered and a scheduled pass runs every minute: an event older than a few
   * minutes carries nothing the next pass does not see, so drop it (60-21600 s; retries 0-2).
   */
  eventInvoke: { maximumEventAgeSeconds: 180, maximumRetryAttempts: 1 },
  /** Attempts per AWS call (the SDK's retry: throttling and 5xx are retried; TRIPOD_AWS_MAX_ATTEMPTS overrides). */
  awsMaxAttempts: 3,
  memoryMb: 256,
  /** Relative to the Action's own bundle (dist/action/index.js). */
  zipPathFromAction: '../lambdas/reconciler.zip',
} as const;
