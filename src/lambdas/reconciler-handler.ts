/**
 * The reconciler function's handler, with its dependencies passed in (the entry point, reconciler.ts,
 * wires the real ones; tests wire moto, aws-sdk-client-mock and real etcd).
 *
 * Every trigger is handled the same way: validate the event, find the cluster it concerns (the
 * group's `tripod:cluster` tag, the instance's tag, the node's own event, or the function's
 * environment for the schedule), load that cluster's ReconcilerConfig from SSM, then run one pass.
 * A pass is level-triggered and idempotent: duplicated, late or lost events are harmless.
 *  - a worker group lifecycle event: settle the worker hooks (worker-hooks.ts);
 *  - a snapshot request (the reconciler's own asynchronous invocation): stream a snapshot from a
 *    healthy voter to S3, apply retention, publish the backup status; no pass. Snapshots are never
 *    taken inside a pass: a pass (before a membership change, or the schedule when one is due) only
 *    requests one and goes on (issue 14, finding 5);
 *  - anything else: one master reconcile pass (observe -> decide -> execute -> publish status), then
 *    settle the worker hooks too, so the schedule catches any worker event that was lost.
 */
import type { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import type { EC2Client } from '@aws-sdk/client-ec2';
import type { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import type { SSMClient } from '@aws-sdk/client-ssm';
import {
  createFleetPort,
  createLoadBalancerPort,
  createNodeProbePort,
  describeGroupWithTags,
  describeInstance,
  GroupNotFoundError,
  pemCertificates,
  pemPrivateKey,
} from '../adapters/aws/heal-ports.js';
import { createSignalParameterPort } from '../adapters/aws/parameter-writers.js';
import type { EtcdTls } from '../adapters/etcd/client.js';
import { resourceNames } from '../contract/names.js';
import {
  CLUSTER_TAG,
  caParameter,
  configParameter,
  reconcilerClientCertParameter,
  statusParameter,
} from '../contract/protocol.js';
import { type Action, describeAction, type LifecycleHook } from '../heal/actions.js';
import {
  type BackupOutcome,
  requestingBackupPort,
  requestSnapshot as requestSnapshotVia,
  type SnapshotStorePort,
  scheduledSnapshot,
  takeSnapshot,
} from '../heal/backups.js';
import { parseReconcilerConfig, type ReconcilerConfig } from '../heal/config.js';
import type { ClusterConditions } from '../heal/decision.js';
import { parseTrigger, type SnapshotRequestDetail, type Trigger } from '../heal/events.js';
import type { BackupPort, EtcdPort, HealPorts } from '../heal/ports.js';
import { type StatusDocument, serializeStatus } from '../heal/status.js';
import { settleWorkerHooks, type WorkerHookOutcome } from './worker-hooks.js';

/** What a master pass reports back (the entry point adapts `reconcilePass`'s result to it). */
export interface PassSummary {
  conditions: ClusterConditions;
  /** The actions the pass ran. */
  actions: Action[];
  waits: string[];
  /** Actions that failed or were skipped, and a status document that could not be published. */
  problems?: string[];
  /** A healthy voter's client URL to take a scheduled snapshot from (none: etcd has no healthy voter). */
  snapshotFrom?: string;
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

class Ignore extends Error {}

export function createReconcilerHandler(deps: ReconcilerDeps) {
  const { clients, telemetry: log } = deps;
  const parameters = createSignalParameterPort(clients.ssm);

  /** The cluster and (for lifecycle events) the group an event concerns; throws Ignore. */
  async function locate(
    trigger: Exclude<Trigger, { kind: 'ignored' }>,
  ): Promise<{ cluster: string; group?: string }> {
    switch (trigger.kind) {
      case 'lifecycle': {
        const group = trigger.event.detail.AutoScalingGroupName;
        try {
          const g = await describeGroupWithTags(clients.autoScaling, clients.ec2, group);
          const cluster = g.tags[CLUSTER_TAG];
          if (!cluster) throw new Ignore(`group ${group} has no ${CLUSTER_TAG} tag: not a tripod group`);
          return { cluster, group };
        } catch (e) {
          if (e instanceof GroupNotFoundError) throw new Ignore(e.message);
          throw e;
        }
      }
      case 'state-change': {
        const id = trigger.event.detail['instance-id'];
        const cluster = (await describeInstance(clients.ec2, id))?.tags[CLUSTER_TAG];
        if (!cluster) throw new Ignore(`instance ${id} has no ${CLUSTER_TAG} tag (or EC2 does not know it)`);
        return { cluster };
      }
      case 'node-ready':
      case 'member-started':
      case 'snapshot':
        return { cluster: trigger.event.detail.cluster };
      case 'schedule':
        if (!deps.cluster) throw new Ignore('a scheduled event, but TRIPOD_CLUSTER is not set');
        return { cluster: deps.cluster };
    }
  }

  async function loadConfig(cluster: string): Promise<ReconcilerConfig> {
    const name = configParameter(cluster);
    const text = await parameters.get(name);
    if (text === undefined) throw new Ignore(`cluster ${cluster} has no configuration at ${name}`);
    const parsed = parseReconcilerConfig(text, cluster, name);
    if (!parsed.ok) throw new Error(parsed.problem);
    return parsed.config;
  }

  async function etcdTls(config: ReconcilerConfig): Promise<EtcdTls | undefined> {
    if (config.etcdScheme === 'http') return undefined;
    const doc = await parameters.get(reconcilerClientCertParameter(config.cluster));
    if (!doc) return undefined; // Not published yet (no seed): the pass sees etcd as unreachable.
    let fields: { ca?: string; cert?: string; key?: string } = {};
    try {
      fields = JSON.parse(doc);
    } catch {
      /* a PEM bundle instead of the JSON document */
    }
    const ca = pemCertificates(
      fields.ca ?? (await parameters.get(caParameter(config.cluster, 'etcd-ca'))) ?? '',
    );
    const cert = pemCertificates(fields.cert ?? doc);
    const key = pemPrivateKey(fields.key ?? doc);
    if (ca.length === 0 || cert.length === 0 || !key) {
      throw new Error(
        `${reconcilerClientCertParameter(config.cluster)}: needs the etcd CA, a client certificate and its key (PEM)`,
      );
    }
    return { ca: ca.join('\n'), cert: cert.join('\n'), key };
  }

  function hookName(config: ReconcilerConfig) {
    const names = resourceNames(config.cluster);
    return (group: string, hook: LifecycleHook) =>
      group === config.workerGroupName
        ? hook === 'launching'
          ? names.workerLaunchingHook
          : names.workerTerminatingHook
        : hook === 'launching'
          ? names.masterLaunchingHook
          : names.masterTerminatingHook;
  }

  /**
   * Asks for a snapshot in an invocation of its own, unless one is under way: writes `requestedAt`
   * to the backup status, then starts the invocation. Returns at once (never streams a snapshot).
   */
  async function requestSnapshot(config: ReconcilerConfig, reason: string): Promise<BackupOutcome> {
    const start = deps.requestSnapshot;
    const r = await requestSnapshotVia(
      parameters,
      config,
      deps.now(),
      start && ((detail) => start(config, detail)),
      reason,
    );
    if (r.outcome === 'requested')
      log.info(`snapshot requested (${reason}): it runs in an invocation of its own`);
    return r;
  }

  /** On the schedule, after the pass: request a snapshot when one is due (metrics, never a stream). */
  async function scheduledBackup(config: ReconcilerConfig): Promise<BackupOutcome> {
    const outcome = await scheduledSnapshot(parameters, config, deps.now(), () =>
      requestSnapshot(config, 'scheduled'),
    );
    log.metric('BackupRequested', 'Count', outcome.outcome === 'requested' ? 1 : 0);
    if (outcome.outcome === 'failed') {
      log.metric('BackupFailed', 'Count', 1);
      log.error(`scheduled backup could not be requested: ${outcome.error}`, { bucket: config.backupBucket });
      const problem = await recordInStatus(config.cluster, outcome);
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
    config: ReconcilerConfig,
    detail: SnapshotRequestDetail,
  ): Promise<BackupOutcome> {
    const started = deps.now();
    let outcome: BackupOutcome;
    const tls = await etcdTls(config);
    const etcd = deps.makeEtcd(tls);
    const store = config.backupBucket ? deps.makeSnapshotStore?.(config, tls) : undefined;
    try {
      outcome = await takeSnapshot(
        {
          fleet: createFleetPort(clients.autoScaling, clients.ec2, hookName(config)),
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
    const problem = await recordInStatus(config.cluster, outcome);
    if (problem) log.warn(`status not updated with the backup: ${problem}`);
    return outcome;
  }

  /** Appends the backup to the status document the pass just published; an error message when it cannot. */
  async function recordInStatus(cluster: string, outcome: BackupOutcome): Promise<string | undefined> {
    const name = statusParameter(cluster);
    try {
      const text = await parameters.get(name);
      const doc = (text ? JSON.parse(text) : {}) as Partial<StatusDocument>;
      const line: StatusDocument['lastActions'][number] = {
        at: new Date(deps.now()).toISOString(),
        action: 'backup',
        outcome: outcome.outcome === 'failed' ? 'failed' : 'ok',
        detail:
          outcome.outcome === 'failed'
            ? outcome.error
            : outcome.outcome === 'taken'
              ? `${outcome.key} (${outcome.bytes} bytes), ${outcome.pruned} pruned`
              : outcome.outcome,
      };
      const next = {
        ...doc,
        lastActions: [...(Array.isArray(doc.lastActions) ? doc.lastActions : []), line],
        waits: Array.isArray(doc.waits) ? doc.waits : [],
      } as StatusDocument;
      await parameters.put(name, serializeStatus(next));
      return undefined;
    } catch (e) {
      return e instanceof Error ? e.message : String(e);
    }
  }

  return async function handler(event: unknown, _context?: LambdaContextLike): Promise<HandlerResult> {
    const started = deps.now();
    const trigger = parseTrigger(event);
    let cluster: string | undefined;
    try {
      if (trigger.kind === 'ignored') throw new Ignore(trigger.reason);
      const instanceId =
        trigger.kind === 'lifecycle'
          ? trigger.event.detail.EC2InstanceId
          : trigger.kind === 'state-change'
            ? trigger.event.detail['instance-id']
            : trigger.kind === 'node-ready' || trigger.kind === 'member-started'
              ? trigger.event.detail.instanceId
              : undefined;
      log.appendKeys({
        trigger: trigger.kind,
        eventId: trigger.event.id,
        ...(instanceId ? { instanceId } : {}),
      });
      const where = await locate(trigger);
      cluster = where.cluster;
      if (deps.cluster && cluster !== deps.cluster) {
        throw new Ignore(`the event concerns cluster ${cluster}; this function reconciles ${deps.cluster}`);
      }
      log.appendKeys({ cluster });
      const config = await loadConfig(cluster);
      if (trigger.kind === 'snapshot') {
        const backup = await snapshotInvocation(config, trigger.event.detail);
        log.metric('SnapshotInvocationDuration', 'Milliseconds', deps.now() - started);
        return { status: 'snapshot', cluster, backup };
      }
      if (where.group && where.group !== config.masterGroupName && where.group !== config.workerGroupName) {
        throw new Ignore(`group ${where.group} is neither the master nor the worker group of ${cluster}`);
      }

      const fleet = createFleetPort(clients.autoScaling, clients.ec2, hookName(config));
      const loadBalancer = createLoadBalancerPort(clients.elbv2);
      const settleWorkers = () =>
        settleWorkerHooks(
          {
            cluster: config.cluster,
            fleet,
            loadBalancer,
            parameters,
            instanceState: async (id) => (await describeInstance(clients.ec2, id))?.state,
            now: deps.now,
          },
          config.workerGroupName,
          config.serviceTargetGroupArns,
        );

      let summary: PassSummary | undefined;
      let tls: EtcdTls | undefined;
      if (!(trigger.kind === 'lifecycle' && where.group === config.workerGroupName)) {
        tls = await etcdTls(config);
        const etcd = deps.makeEtcd(tls);
        // Before a membership change the pass only asks for a snapshot (its own invocation).
        const backup: BackupPort | undefined =
          config.backupBucket && deps.requestSnapshot
            ? requestingBackupPort((reason) => requestSnapshot(config, reason))
            : undefined;
        const kubeCa = pemCertificates((await parameters.get(caParameter(cluster, 'kubernetes-ca'))) ?? '');
        try {
          summary = await deps.runPass(
            {
              fleet,
              loadBalancer,
              parameters,
              etcd,
              probe: createNodeProbePort({
                ca: kubeCa.join('\n'),
                ...(deps.apiServerPort ? { port: deps.apiServerPort } : {}),
              }),
              clock: { now: deps.now },
              ...(backup ? { backup } : {}),
            },
            config,
            _context?.getRemainingTimeInMillis
              ? { remainingMs: () => _context.getRemainingTimeInMillis!() }
              : {},
          );
        } finally {
          etcd.close?.();
        }
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
      const workerHooks = await settleWorkers();
      for (const o of workerHooks) {
        log.info(`worker ${o.hook} ${o.instanceId}: ${o.result} (${o.reason})`, {
          workerInstanceId: o.instanceId,
        });
      }
      const backup =
        trigger.kind === 'schedule' && config.backupBucket && deps.requestSnapshot
          ? await scheduledBackup(config)
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
      if (e instanceof Ignore) {
        log.warn('event ignored', { reason: e.message });
        return { status: 'ignored', reason: e.message };
      }
      log.error('pass failed', { error: (e as Error).message });
      throw e;
    } finally {
      log.flushMetrics(cluster);
      log.removeKeys(['trigger', 'eventId', 'instanceId', 'cluster']);
    }
  };
}
