/**
 * The reconciler Lambda's entry point (bundled to dist/lambdas/reconciler/index.mjs): wires the real
 * dependencies - SDK clients for the four services it calls, the etcd JSON-gateway client, one
 * `reconcilePass` - and JSON logs and EMF metrics on stdout (telemetry.ts) into the handler.
 *
 * Environment: TRIPOD_CLUSTER (the cluster this function reconciles), AWS_REGION (set by Lambda),
 * AWS_ENDPOINT_URL (an emulator, tests only), TRIPOD_AWS_MAX_ATTEMPTS (default 3),
 * TRIPOD_SNAPSHOT_FUNCTION (the function snapshot requests go to; default: this one,
 * AWS_LAMBDA_FUNCTION_NAME, set by Lambda), AWS_LAMBDA_LOG_LEVEL or TRIPOD_LOG_LEVEL (default INFO),
 * TRIPOD_METRICS_DISABLED=true (no EMF lines: benchmarks).
 */
import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { EC2Client } from '@aws-sdk/client-ec2';
import { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { SSMClient } from '@aws-sdk/client-ssm';
import { ApiCallCounter, instrument, localCredentials, resolveEndpoint } from '../adapters/aws/clients.js';
import { createEtcdClient } from '../adapters/etcd/client.js';
import { RECONCILER_PACKAGE } from '../contract/reconciler-package.js';
import { describeAction } from '../heal/actions.js';
import { reconcilePass } from '../heal/reconcile.js';
import {
  createReconcilerHandler,
  type LambdaContextLike,
  type PassSummary,
  type RunPass,
  type SnapshotStorePort,
} from './reconciler-handler.js';
import { createJsonTelemetry } from './telemetry.js';

export const SERVICE_NAME = 'tripod-reconciler';

/** Bundled: the separate snapshot.mjs next to index.mjs (a variable, so esbuild leaves it out); from source: snapshot.ts. */
const SNAPSHOT_MODULE = import.meta.url.endsWith('.mjs') ? './snapshot.mjs' : './snapshot.js';
export const METRICS_NAMESPACE = 'tripod';

/** reconcilePass, reported as the handler wants it: the actions that ran, what failed, what waits. */
export const runReconcilePass: RunPass = async (ports, config, options) => {
  const r = await reconcilePass(ports, config, options);
  const problems = r.results
    .filter((x) => x.outcome !== 'ok')
    .map((x) =>
      x.outcome === 'failed'
        ? `failed: ${describeAction(x.action)}: ${x.error}`
        : `skipped: ${describeAction(x.action)}: ${x.reason}`,
    );
  if (r.statusError) problems.push(`status not published: ${r.statusError}`);
  problems.push(...r.ignoredSignals);
  const summary: PassSummary = {
    conditions: r.decision.conditions,
    actions: r.results.filter((x) => x.outcome === 'ok').map((x) => x.action),
    waits: r.decision.waits,
    problems,
  };
  return summary;
};

export function createLambdaHandler(env: NodeJS.ProcessEnv = process.env) {
  const region = env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1';
  const endpoint = resolveEndpoint(env.AWS_ENDPOINT_URL);
  const credentials = localCredentials(endpoint);
  const base = {
    region,
    maxAttempts: Number(env.TRIPOD_AWS_MAX_ATTEMPTS ?? RECONCILER_PACKAGE.awsMaxAttempts),
    retryMode: 'adaptive',
    ...(endpoint ? { endpoint } : {}),
    ...(credentials ? { credentials } : {}),
  };
  const counter = new ApiCallCounter();
  const clients = {
    autoScaling: instrument(new AutoScalingClient(base), counter),
    ec2: instrument(new EC2Client(base), counter),
    elbv2: instrument(new ElasticLoadBalancingV2Client(base), counter),
    ssm: instrument(new SSMClient(base), counter),
  };
  const telemetry = createJsonTelemetry({ service: SERVICE_NAME, namespace: METRICS_NAMESPACE, env });
  const handle = createReconcilerHandler({
    clients,
    cluster: env.TRIPOD_CLUSTER || undefined,
    makeEtcd: (tls) => createEtcdClient({ ...(tls ? { tls } : {}), timeoutMs: 3000 }),
    // The S3 and Lambda clients and the snapshot code are a separate file of the bundle (snapshot.ts),
    // loaded on first use: a snapshot invocation, or a pass that requests one.
    makeSnapshotStore: (config, tls) => {
      let store: (SnapshotStorePort & { close(): void }) | undefined;
      return {
        async take(from, reason, retentionDays) {
          const { createSnapshotter } = (await import(SNAPSHOT_MODULE)) as typeof import('./snapshot.js');
          store ??= createSnapshotter(base, counter, { ...config, backupBucket: config.backupBucket! }, tls);
          return store.take(from, reason, retentionDays);
        },
        close: () => store?.close(),
      };
    },
    requestSnapshot: async (_config, detail) => {
      const target = env.TRIPOD_SNAPSHOT_FUNCTION || env.AWS_LAMBDA_FUNCTION_NAME;
      if (!target) throw new Error('no function to send the snapshot request to (AWS_LAMBDA_FUNCTION_NAME)');
      const { createSnapshotRequester } = (await import(SNAPSHOT_MODULE)) as typeof import('./snapshot.js');
      const requester = createSnapshotRequester(base, counter, target);
      try {
        await requester.request(detail);
      } finally {
        requester.close();
      }
    },
    runPass: runReconcilePass,
    telemetry,
    now: Date.now,
  });
  return async (event: unknown, context?: LambdaContextLike) => {
    counter.reset();
    const result = await handle(event, context);
    if (result.status === 'reconciled') telemetry.debug('api calls', { calls: counter.snapshot() });
    return result;
  };
}

export const handler = createLambdaHandler();
