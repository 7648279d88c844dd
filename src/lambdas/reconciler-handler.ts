/**
 * The reconciler function's handler, with its dependencies passed in (the entry point, reconciler.ts,
 * wires the real ones; tests wire moto, aws-sdk-client-mock and real etcd).
 *
 * Every trigger is handled the same way: validate the event, find the cluster it concerns (the
 * group's `tripod:cluster` tag, the instance's tag, the node's own event, or the function's
 * environment for the schedule), load that cluster's ReconcilerConfig from SSM, then run one pass.
 * A pass is level-triggered and idempotent: duplicated, late or lost events are harmless.
 *  - a worker group lifecycle event: settle the worker hooks (heal/worker-hooks.ts);
 *  - a snapshot request (the reconciler's own asynchronous invocation): stream a snapshot from a
 *    healthy voter to S3, apply retention, publish the backup status; no pass. Snapshots are never
 *    taken inside a pass: a pass (before a membership change, or the schedule when one is due) only
 *    requests one and goes on (issue 14, finding 5);
 *  - anything else: one master reconcile pass (observe -> decide -> execute -> publish status), then
 *    settle the worker hooks too, so the schedule catches any worker event that was lost.
 * This file is wiring: the decisions are heal's (events, config, worker hooks, backups), the reads
 * and writes the AWS adapters' (adapters/aws/reconciler-io.ts). An event that concerns no cluster
 * of ours is logged ("event ignored") and answered `{ status: 'ignored' }`; an error is thrown.
 */
import type { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import type { EC2Client } from '@aws-sdk/client-ec2';
import type { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import type { SSMClient } from '@aws-sdk/client-ssm';
import {
  type AwsLoadBalancerPort,
  createFleetPort,
  createLoadBalancerPort,
  createNodeProbePort,
} from '../adapters/aws/heal-ports.js';
import { createSignalParameterPort } from '../adapters/aws/parameter-writers.js';
import {
  createWorkerHookPort,
  lifecycleHookNames,
  loadEtcdTls,
  loadKubernetesCa,
  loadReconcilerConfig,
  locateCluster,
  recordBackupInStatus,
} from '../adapters/aws/reconciler-io.js';
import type { EtcdTls } from '../adapters/etcd/client.js';
import { type Action, describeAction } from '../heal/actions.js';
import {
  type BackupOutcome,
  requestingBackupPort,
  requestSnapshot as requestSnapshotVia,
  type SnapshotStorePort,
  scheduledSnapshot,
  takeSnapshot,
} from '../heal/backups.js';
import type { ReconcilerConfig } from '../heal/config.js';
import type { ClusterConditions } from '../heal/decision.js';
import { parseTrigger, type SnapshotRequestDetail, type Trigger } from '../heal/events.js';
import type { BackupPort, EtcdPort, FleetPort, HealPorts, ParameterPort } from '../heal/ports.js';
import { settleWorkerHooks, type WorkerHookOutcome } from '../heal/worker-hooks.js';

/** What a master pass reports back (the entry point adapts `reconcilePass`'s result to it). */
export interface PassSummary {
  conditions: ClusterConditions;
  /** The actions the pass ran. */
  actions: Action[];
  waits: string[];
  /** Actions that failed or were skipped, and a status document that could not be published. */
  problems?: string[];
}

export type { BackupOutcome, SnapshotStorePort } from '../heal/backups.js';

/** `options.remainingMs`: the invocation's remaining time (a pass starts no new work when it is short). */
export type RunPass = (
  ports: HealPorts,
  config: ReconcilerConfig,
  options?: { remainingMs?: () => number },
) => Promise<PassSummary>;

/** The logging and metrics the handler needs (telemetry.ts: JSON log lines and CloudWatch EMF metrics, shaped like Powertools' Logger and Metrics). */
export interface Telemetry {
  info(message: string, extra?: Record<string, unknown>): void;
  warn(message: string, extra?: Record<string, unknown>): void;
  error(message: string, extra?: Record<string, unknown>): void;
  /** Keys added to every following log line (cluster, instance). */
  appendKeys(keys: Record<string, unknown>): void;
  removeKeys(keys: string[]): void;
  metric(name: string, unit: 'Count' | 'Milliseconds', value: number): void;
  /** Flushes the metrics of this invocation (one EMF line), with the cluster as dimension. */
  flushMetrics(cluster: string | undefined): void;
}

export interface ReconcilerDeps {
  clients: {
    autoScaling: AutoScalingClient;
    ec2: EC2Client;
    elbv2: ElasticLoadBalancingV2Client;
    ssm: SSMClient;
  };
  /** The cluster this function reconciles (TRIPOD_CLUSTER); events about other clusters are ignored. */
  cluster: string | undefined;
  makeEtcd(tls: EtcdTls | undefined): EtcdPort & { close?(): void };
  /** The snapshot store of a cluster with `backupBucket` (used by snapshot invocations only). */
  makeSnapshotStore?(
    config: ReconcilerConfig,
    tls: EtcdTls | undefined,
  ): SnapshotStorePort & { close?(): void };
  /**
   * Starts a snapshot invocation (Lambda: an asynchronous Invoke of this function with a
   * "Snapshot Requested" event) and returns at once: the pass never waits for a snapshot.
   */
  requestSnapshot?(config: ReconcilerConfig, detail: SnapshotRequestDetail): Promise<void>;
  runPass: RunPass;
  telemetry: Telemetry;
  now(): number;
  /** Port of the masters' API servers for the readiness probe (tests). */
  apiServerPort?: number;
}

export interface LambdaContextLike {
  getRemainingTimeInMillis?(): number;
  awsRequestId?: string;
}

export type HandlerResult =
  | { status: 'ignored'; reason: string }
  | {
      status: 'reconciled';
      cluster: string;
      trigger: Exclude<Trigger['kind'], 'snapshot'>;
      actions: string[];
      waits: string[];
      workerHooks: WorkerHookOutcome[];
      backup?: BackupOutcome;
    }
  | { status: 'snapshot'; cluster: string; backup: BackupOutcome };

export function createReconcilerHandler(deps: ReconcilerDeps) {
  const { clients, telemetry: log } = deps;
  const parameters = createSignalParameterPort(clients.ssm);

  function ignore(reason: string): HandlerResult {
    log.warn('event ignored', { reason });
    return { status: 'ignored', reason };
  }

  return async function handler(event: unknown, context?: LambdaContextLike): Promise<HandlerResult> {
    const started = deps.now();
    const trigger = parseTrigger(event);
    let cluster: string | undefined;
    try {
      if (trigger.kind === 'ignored') return ignore(trigger.reason);
      log.appendKeys(eventKeys(trigger));
      const where = await locateCluster(clients, trigger, deps.cluster);
      if (!where.ok) return ignore(where.why);
      cluster = where.cluster;
      if (deps.cluster && cluster !== deps.cluster) {
        return ignore(`the event concerns cluster ${cluster}; this function reconciles ${deps.cluster}`);
      }
      log.appendKeys({ cluster });
      const loaded = await loadReconcilerConfig(parameters, cluster);
      if (!loaded.ok) {
        if ('missing' in loaded) return ignore(loaded.missing);
        throw new Error(loaded.problem);
      }
      const { config } = loaded;

      if (trigger.kind === 'snapshot') {
        const backup = await snapshotInvocation(deps, parameters, config, trigger.event.detail);
        log.metric('SnapshotInvocationDuration', 'Milliseconds', deps.now() - started);
        return { status: 'snapshot', cluster, backup };
      }
      if (where.group && where.group !== config.masterGroupName && where.group !== config.workerGroupName) {
        return ignore(`group ${where.group} is neither the master nor the worker group of ${cluster}`);
      }

      const fleet = createFleetPort(clients.autoScaling, clients.ec2, lifecycleHookNames(config));
      const loadBalancer = createLoadBalancerPort(clients.elbv2);
      const ports = { fleet, loadBalancer, parameters };
      const workerEvent = trigger.kind === 'lifecycle' && where.group === config.workerGroupName;
      const summary = workerEvent ? undefined : await masterPass(deps, ports, config, context);
      if (summary) logPass(log, summary);
      const workerHooks = await settleWorkerHooks(
        createWorkerHookPort(clients, ports, deps.now),
        config.cluster,
        config.workerGroupName,
        config.serviceTargetGroupArns,
      );
      logWorkerHooks(log, workerHooks);
      const backup =
        trigger.kind === 'schedule' && config.backupBucket && deps.requestSnapshot
          ? await scheduledBackup(deps, parameters, config)
          : undefined;
      log.metric('PassDuration', 'Milliseconds', deps.now() - started);
      log.info('pass done', {
        durationMs: deps.now() - started,
        ...(summary
          ? { quorumMargin: summary.conditions.quorumMargin, converged: summary.conditions.converged }
          : {}),
      });
      return {
        status: 'reconciled',
        cluster,
        trigger: trigger.kind,
        actions: summary?.actions.map(describeAction) ?? [],
        waits: summary?.waits ?? [],
        workerHooks,
        ...(backup ? { backup } : {}),
      };
    } catch (e) {
      log.error('pass failed', { error: (e as Error).message });
      throw e;
    } finally {
      log.flushMetrics(cluster);
      log.removeKeys(['trigger', 'eventId', 'instanceId', 'cluster']);
    }
  };
}

/** The log keys of an event: its kind, id, and the instance it is about (when it names one). */
function eventKeys(trigger: Exclude<Trigger, { kind: 'ignored' }>): Record<string, unknown> {
  const instanceId =
    trigger.kind === 'lifecycle'
      ? trigger.event.detail.EC2InstanceId
      : trigger.kind === 'state-change'
        ? trigger.event.detail['instance-id']
        : trigger.kind === 'node-ready' || trigger.kind === 'member-started'
          ? trigger.event.detail.instanceId
          : undefined;
  return { trigger: trigger.kind, eventId: trigger.event.id, ...(instanceId ? { instanceId } : {}) };
}

/** One master pass over the AWS ports, etcd (with the cluster's client TLS) and the API servers' probe. */
async function masterPass(
  deps: ReconcilerDeps,
  ports: { fleet: FleetPort; loadBalancer: AwsLoadBalancerPort; parameters: ParameterPort },
  config: ReconcilerConfig,
  context: LambdaContextLike | undefined,
): Promise<PassSummary> {
  const etcd = deps.makeEtcd(await loadEtcdTls(ports.parameters, config));
  // Before a membership change the pass only asks for a snapshot (its own invocation).
  const backup: BackupPort | undefined =
    config.backupBucket && deps.requestSnapshot
      ? requestingBackupPort((reason) => requestSnapshot(deps, ports.parameters, config, reason))
      : undefined;
  const kubeCa = await loadKubernetesCa(ports.parameters, config.cluster);
  try {
    return await deps.runPass(
      {
        ...ports,
        etcd,
        probe: createNodeProbePort({
          ca: kubeCa,
          ...(deps.apiServerPort ? { port: deps.apiServerPort } : {}),
        }),
        clock: { now: deps.now, sleep: (ms) => new Promise<void>((r) => setTimeout(r, ms)) },
        ...(backup ? { backup } : {}),
      },
      config,
      context?.getRemainingTimeInMillis ? { remainingMs: () => context.getRemainingTimeInMillis!() } : {},
    );
  } finally {
    etcd.close?.();
  }
}

/** A pass's actions, waits and problems as log lines; its conditions and actions as metrics. */
function logPass(log: Telemetry, summary: PassSummary): void {
  for (const a of summary.actions) log.info(describeAction(a), { action: a.kind });
  for (const w of summary.waits) log.info(`waiting: ${w}`);
  for (const p of summary.problems ?? []) log.warn(p);
  log.metric('QuorumMargin', 'Count', summary.conditions.quorumMargin);
  log.metric('HealthyVoters', 'Count', summary.conditions.healthyVoters);
  log.metric('ActionsTaken', 'Count', summary.actions.length);
  const byKind = new Map<string, number>();
  for (const a of summary.actions) byKind.set(a.kind, (byKind.get(a.kind) ?? 0) + 1);
  for (const [kind, n] of byKind) log.metric(`Action.${kind}`, 'Count', n);
}

function logWorkerHooks(log: Telemetry, outcomes: readonly WorkerHookOutcome[]): void {
  for (const o of outcomes) {
    log.info(`worker ${o.hook} ${o.instanceId}: ${o.result} (${o.reason})`, {
      workerInstanceId: o.instanceId,
    });
  }
}

/**
 * Asks for a snapshot in an invocation of its own, unless one is under way: writes `requestedAt`
 * to the backup status, then starts the invocation. Returns at once (never streams a snapshot).
 */
async function requestSnapshot(
  deps: ReconcilerDeps,
  parameters: ParameterPort,
  config: ReconcilerConfig,
  reason: string,
): Promise<BackupOutcome> {
  const start = deps.requestSnapshot;
  const r = await requestSnapshotVia(
    parameters,
    config,
    deps.now(),
    start && ((detail) => start(config, detail)),
    reason,
  );
  if (r.outcome === 'requested') {
    deps.telemetry.info(`snapshot requested (${reason}): it runs in an invocation of its own`);
  }
  return r;
}

/** On the schedule, after the pass: request a snapshot when one is due (metrics, never a stream). */
async function scheduledBackup(
  deps: ReconcilerDeps,
  parameters: ParameterPort,
  config: ReconcilerConfig,
): Promise<BackupOutcome> {
  const log = deps.telemetry;
  const outcome = await scheduledSnapshot(parameters, config, deps.now(), () =>
    requestSnapshot(deps, parameters, config, 'scheduled'),
  );
  log.metric('BackupRequested', 'Count', outcome.outcome === 'requested' ? 1 : 0);
  if (outcome.outcome === 'failed') {
    log.metric('BackupFailed', 'Count', 1);
    log.error(`scheduled backup could not be requested: ${outcome.error}`, { bucket: config.backupBucket });
    const problem = await recordBackupInStatus(parameters, config.cluster, outcome, deps.now());
    if (problem) log.warn(`status not updated with the backup: ${problem}`);
  } else if (outcome.outcome === 'not-due') {
    log.info(`scheduled backup not due for ${Math.round(outcome.nextInMs / 1000)} s`);
  }
  return outcome;
}

/**
 * A snapshot invocation: from a healthy voter (a follower when there is one: the leader is
 * busiest), streamed to S3 (multipart), then retention; the backup status and the status document
 * say how it went, and metrics count it (BackupTaken/BackupFailed, BackupDuration, BackupBytes).
 */
async function snapshotInvocation(
  deps: ReconcilerDeps,
  parameters: ParameterPort,
  config: ReconcilerConfig,
  detail: SnapshotRequestDetail,
): Promise<BackupOutcome> {
  const { clients, telemetry: log } = deps;
  const started = deps.now();
  let outcome: BackupOutcome;
  const tls = await loadEtcdTls(parameters, config);
  const etcd = deps.makeEtcd(tls);
  const store = config.backupBucket ? deps.makeSnapshotStore?.(config, tls) : undefined;
  try {
    outcome = await takeSnapshot(
      {
        fleet: createFleetPort(clients.autoScaling, clients.ec2, lifecycleHookNames(config)),
        etcd,
        parameters,
        now: deps.now,
      },
      store,
      config,
      detail,
      (message) => log.warn(message),
    );
  } finally {
    etcd.close?.();
    store?.close?.();
  }
  log.metric('BackupFailed', 'Count', outcome.outcome === 'failed' ? 1 : 0);
  log.metric('BackupTaken', 'Count', outcome.outcome === 'taken' ? 1 : 0);
  if (outcome.outcome === 'taken') {
    log.metric('BackupDuration', 'Milliseconds', deps.now() - started);
    log.metric('BackupBytes', 'Count', outcome.bytes);
    log.metric('BackupsPruned', 'Count', outcome.pruned);
    log.info(`snapshot (${detail.reason}): ${outcome.key} (${outcome.bytes} bytes)`, {
      bucket: config.backupBucket,
    });
  } else if (outcome.outcome === 'failed') {
    log.error(`snapshot (${detail.reason}) failed: ${outcome.error}`, { bucket: config.backupBucket });
  }
  const problem = await recordBackupInStatus(parameters, config.cluster, outcome, deps.now());
  if (problem) log.warn(`status not updated with the backup: ${problem}`);
  return outcome;
}
