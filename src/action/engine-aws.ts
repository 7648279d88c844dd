/**
 * The Engine over AWS: the provisioner for plan/apply/destroy/endpoints, the healing core's AWS
 * ports and the reconciler's status document (SSM) for status. Credentials come only from the SDK's
 * default chain (or dummy ones against a local endpoint such as moto, see adapters/aws/clients.ts).
 */
import { type AwsClients, createAwsClients } from '../adapters/aws/clients.js';
import { findLoadBalancers } from '../adapters/aws/elbv2.js';
import {
  createFleetPort,
  createLoadBalancerPort,
  createParameterPort,
  GroupNotFoundError,
} from '../adapters/aws/heal-ports.js';
import { createUpgradePort } from '../adapters/aws/instance-refresh.js';
import type { ClusterSpec } from '../cluster-spec/schema.js';
import { deriveTopology } from '../cluster-spec/topology.js';
import { resourceNames } from '../contract/names.js';
import { backupStatusParameter, configParameter, statusParameter } from '../contract/protocol.js';
import type { BackupStatusDocument } from '../heal/backup-policy.js';
import type { ReconcilerConfig } from '../heal/config.js';
import { applyPlan, destroy } from '../provision/apply.js';
import type { DesiredOptions } from '../provision/desired.js';
import { type Plan, type PlanState, planCluster } from '../provision/plan.js';
import { planDiffLines, renderPlanText } from '../provision/plan-render.js';
import { savePlan } from '../provision/saved-plan.js';
import { upgradeRequestFromSpec } from '../upgrade/request.js';
import { runUpgrade } from '../upgrade/run.js';
import type { ClusterStatus, Endpoints, Engine, PlanView } from './engine.js';
import { ActionError } from './errors.js';
import { readStatusDocument } from './status-document.js';
import { countPerZone } from './status-report.js';

export function createAwsEngine(region: string, env: NodeJS.ProcessEnv = process.env): Engine {
  const clients = createAwsClients({
    region,
    ...(env.TRIPOD_AWS_MAX_ATTEMPTS ? { maxAttempts: Number(env.TRIPOD_AWS_MAX_ATTEMPTS) } : {}),
  });
  // The reconciler bundle is the shipped one (provision/reconciler-bundle.ts), as for the CLI.
  const desiredOptions: DesiredOptions = {};
  // What plan showed is exactly what apply carries out: the view keeps its plan state.
  const states = new WeakMap<PlanView, PlanState>();

  return {
    async checkCredentials() {
      // Resolves the default chain once, before any call: "no credentials" is reported as such.
      await clients.ec2.config.credentials();
    },
    async plan(spec) {
      const state = await planCluster(clients, spec, desiredOptions);
      const view: PlanView = { ...planView(state.plan), saved: savePlan(spec, state) };
      states.set(view, state);
      return view;
    },
    async apply(_spec, plan, options) {
      const state = states.get(plan);
      if (!state) throw new Error('internal: apply was given a plan this engine did not make');
      await applyPlan(state, {
        allowDestructive: options.allowDestructive,
        onProgress: options.onProgress,
        signal: options.signal,
      });
    },
    async destroy(spec, options) {
      await destroy(clients, spec, {
        onProgress: options.onProgress,
        signal: options.signal,
        ...(options.deadline !== undefined ? { deadline: options.deadline } : {}),
      });
    },
    async upgrade(spec, options) {
      return runUpgrade(
        createUpgradePort(clients),
        upgradeRequestFromSpec(spec, { abort: options.abort === true }),
        {
          timeoutMs: options.timeoutMs,
          signal: options.signal,
          onProgress: options.onProgress,
        },
      );
    },
    endpoints: (spec) => clusterEndpoints(clients, spec),
    status: (spec) => readClusterStatus(clients, spec),
    apiCalls() {
      return clients.counter.total;
    },
    close() {
      clients.destroy();
    },
  };
}

/**
 * The API and service endpoints: the spec's DNS names when it has them (what users connect to), else
 * the load balancers' own (found by their names, src/contract/names.ts).
 */
export async function clusterEndpoints(clients: AwsClients, spec: ClusterSpec): Promise<Endpoints> {
  const names = resourceNames(spec.name);
  const needLookup = !spec.apiEndpoint.dnsName || !spec.serviceEndpoint.dnsName;
  const lbs = needLookup ? await findLoadBalancers(clients, `${spec.name}-`) : [];
  const dnsOf = (name: string) => lbs.find((l) => l.name === name)?.dnsName || undefined;
  return {
    api: spec.apiEndpoint.dnsName ?? dnsOf(names.apiLoadBalancer),
    service: spec.serviceEndpoint.dnsName ?? dnsOf(names.serviceLoadBalancer),
  };
}

/** What AWS and the reconciler's status document say about the cluster (the `status` report's input). */
export async function readClusterStatus(clients: AwsClients, spec: ClusterSpec): Promise<ClusterStatus> {
  const parameters = createParameterPort(clients.ssm);
  const fleet = createFleetPort(clients.autoScaling, clients.ec2, (_g, hook) => hook);
  const loadBalancers = createLoadBalancerPort(clients.elbv2);
  const names = resourceNames(spec.name);
  const topology = deriveTopology(spec);
  let group: Awaited<ReturnType<typeof fleet.describeGroup>>;
  try {
    group = await fleet.describeGroup(names.masterGroup);
  } catch (e) {
    if (e instanceof GroupNotFoundError)
      throw new ActionError(
        `cluster ${spec.name} not found in ${spec.region}: there is no Auto Scaling group ${names.masterGroup}. Run command apply first.`,
      );
    throw e;
  }
  const configText = await parameters.get(configParameter(spec.name));
  const config = configText ? (JSON.parse(configText) as Partial<ReconcilerConfig>) : undefined;
  const targets = config?.apiTargetGroupArn
    ? await loadBalancers.describeTargets(config.apiTargetGroupArn)
    : [];
  const doc = readStatusDocument(await parameters.get(statusParameter(spec.name)));
  const backup = await lastBackup(parameters, spec.name, config?.backupBucket);
  return {
    cluster: spec.name,
    region: spec.region,
    expectedMasters: topology.masters,
    quorum: topology.quorum,
    ...countPerZone(spec.network.zones, group.instances),
    ...(group.warnings?.length ? { readWarnings: group.warnings } : {}),
    instances: group.instances.map((i) => ({
      instanceId: i.instanceId,
      zone: i.zone,
      lifecycleState: i.lifecycleState,
      health: i.health,
    })),
    targets: targets.map((t) => ({ instanceId: t.instanceId, health: t.health })),
    etcd: doc?.etcd,
    lastReconcile: doc?.lastReconcile,
    ...(doc?.statusAt ? { statusAt: doc.statusAt } : {}),
    ...(doc?.recentActions ? { recentActions: doc.recentActions } : {}),
    ...backup,
    ...(doc
      ? {}
      : {
          missingStatusDocument: `the reconciler has published no status document at ${statusParameter(spec.name)} yet: etcd membership is unknown, counting healthy masters instead`,
        }),
  };
}

/**
 * The newest completed snapshot, from the backup status the snapshot invocation publishes
 * (`backupStatusParameter`): a plain parameter, so a read-only role (the plan role of a drift check)
 * reports it without reading, or decrypting, any object of the bucket.
 */
async function lastBackup(
  parameters: ReturnType<typeof createParameterPort>,
  cluster: string,
  bucket: string | undefined,
): Promise<Pick<ClusterStatus, 'lastBackup' | 'lastBackupUnknown'>> {
  if (!bucket) return { lastBackupUnknown: `${configParameter(cluster)} names no backup bucket` };
  try {
    const text = await parameters.get(backupStatusParameter(cluster));
    if (text === undefined) return { lastBackup: null };
    const doc = JSON.parse(text) as BackupStatusDocument;
    const last = doc.lastSnapshot;
    return {
      lastBackup: last
        ? { time: new Date(Date.parse(last.at)).toISOString(), key: last.key, revision: last.revision }
        : null,
    };
  } catch (e) {
    return { lastBackupUnknown: `cannot read ${backupStatusParameter(cluster)}: ${(e as Error).message}` };
  }
}

/** The plan as the action shows it: a diff (+ create, - delete, ! update or replace) grouped by step. */
export function planView(plan: Plan): PlanView {
  return {
    hasChanges: plan.hasChanges,
    changesCount: plan.changes.length,
    destructive: plan.destructive,
    conflicts: plan.conflicts,
    diff: planDiffLines(plan).join('\n'),
    text: renderPlanText(plan),
    json: plan,
  };
}
