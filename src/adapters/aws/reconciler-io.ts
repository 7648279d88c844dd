/**
 * What the reconciler Lambda reads and writes around a pass, over AWS: which cluster an event
 * concerns, its configuration, the etcd client TLS material and the Kubernetes CA from SSM, the
 * backup line in the status document, and the worker hooks' port. The decisions are heal's
 * (parseReconcilerConfig, statusWithBackup, planWorkerHooks); these functions only fetch and store.
 */
import type { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import type { EC2Client } from '@aws-sdk/client-ec2';
import { resourceNames } from '../../contract/names.js';
import {
  CLUSTER_TAG,
  caParameter,
  configParameter,
  reconcilerClientCertParameter,
  statusParameter,
} from '../../contract/protocol.js';
import type { LifecycleHook } from '../../heal/actions.js';
import { type BackupOutcome, statusWithBackup } from '../../heal/backups.js';
import { parseReconcilerConfig, type ReconcilerConfig } from '../../heal/config.js';
import type { Trigger } from '../../heal/events.js';
import type { ParameterPort, WorkerHookPort } from '../../heal/ports.js';
import { serializeStatus } from '../../heal/status.js';
import type { EtcdTls } from '../etcd/client.js';
import {
  type AwsLoadBalancerPort,
  describeGroupLifecycle,
  describeGroupTags,
  describeInstance,
  describeInstanceStates,
  GroupNotFoundError,
  pemCertificates,
  pemPrivateKey,
} from './heal-ports.js';

/** The cluster (and, for a lifecycle event, the group) an event concerns, or why it concerns none. */
export type Located = { ok: true; cluster: string; group?: string } | { ok: false; why: string };

/**
 * Finds the cluster of an event: the group's `tripod:cluster` tag, the instance's tag, the node's
 * own event, or `functionCluster` (TRIPOD_CLUSTER) for the schedule.
 */
export async function locateCluster(
  clients: { autoScaling: AutoScalingClient; ec2: EC2Client },
  trigger: Exclude<Trigger, { kind: 'ignored' }>,
  functionCluster: string | undefined,
): Promise<Located> {
  switch (trigger.kind) {
    case 'lifecycle': {
      const group = trigger.event.detail.AutoScalingGroupName;
      try {
        // Only the group's tags: the pass reads its instances itself.
        const cluster = (await describeGroupTags(clients.autoScaling, group))[CLUSTER_TAG];
        if (!cluster)
          return { ok: false, why: `group ${group} has no ${CLUSTER_TAG} tag: not a tripod group` };
        return { ok: true, cluster, group };
      } catch (e) {
        if (e instanceof GroupNotFoundError) return { ok: false, why: e.message };
        throw e;
      }
    }
    case 'state-change': {
      const id = trigger.event.detail['instance-id'];
      const cluster = (await describeInstance(clients.ec2, id))?.tags[CLUSTER_TAG];
      if (!cluster) {
        return { ok: false, why: `instance ${id} has no ${CLUSTER_TAG} tag (or EC2 does not know it)` };
      }
      return { ok: true, cluster };
    }
    case 'node-ready':
    case 'member-started':
    case 'snapshot':
      return { ok: true, cluster: trigger.event.detail.cluster };
    case 'schedule':
      if (!functionCluster) return { ok: false, why: 'a scheduled event, but TRIPOD_CLUSTER is not set' };
      return { ok: true, cluster: functionCluster };
  }
}

/**
 * The cluster's ReconcilerConfig (`/tripod/<cluster>/config`), or the problem naming the parameter
 * and field; `missing` says why there is none (apply has not written one: not a tripod cluster, or
 * not yet).
 */
export async function loadReconcilerConfig(
  parameters: Pick<ParameterPort, 'get'>,
  cluster: string,
): Promise<ReturnType<typeof parseReconcilerConfig> | { ok: false; missing: string }> {
  const name = configParameter(cluster);
  const text = await parameters.get(name);
  if (text === undefined) return { ok: false, missing: `cluster ${cluster} has no configuration at ${name}` };
  return parseReconcilerConfig(text, cluster, name);
}

/**
 * The reconciler's etcd client TLS material: the JSON document `{ ca, cert, key }` the seed
 * publishes (or a PEM bundle, with the CA from the etcd-ca parameter). Undefined for plain-HTTP etcd
 * and before the seed published it (the pass then sees etcd as unreachable). Throws when the
 * material is incomplete.
 */
export async function loadEtcdTls(
  parameters: Pick<ParameterPort, 'get'>,
  config: ReconcilerConfig,
): Promise<EtcdTls | undefined> {
  if (config.etcdScheme === 'http') return undefined;
  const name = reconcilerClientCertParameter(config.cluster);
  const doc = await parameters.get(name);
  if (!doc) return undefined;
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
    throw new Error(`${name}: needs the etcd CA, a client certificate and its key (PEM)`);
  }
  return { ca: ca.join('\n'), cert: cert.join('\n'), key };
}

/** The Kubernetes CA certificates (PEM, joined) the readiness probe trusts; empty before the seed stored it. */
export async function loadKubernetesCa(
  parameters: Pick<ParameterPort, 'get'>,
  cluster: string,
): Promise<string> {
  return pemCertificates((await parameters.get(caParameter(cluster, 'kubernetes-ca'))) ?? '').join('\n');
}

/** Appends the backup to the status document the pass published; the error message when it cannot. */
export async function recordBackupInStatus(
  parameters: Pick<ParameterPort, 'get' | 'put'>,
  cluster: string,
  outcome: BackupOutcome,
  now: number,
): Promise<string | undefined> {
  const name = statusParameter(cluster);
  try {
    await parameters.put(name, serializeStatus(statusWithBackup(await parameters.get(name), outcome, now)));
    return undefined;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}

/** The lifecycle hook names of the cluster's groups: the worker group's own, the masters' for any other. */
export function lifecycleHookNames(config: ReconcilerConfig) {
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
 * The worker hooks' port over the AWS ports the pass uses. The worker group is read from Auto
 * Scaling alone (the hooks need its lifecycle states, not every worker's address from EC2), and EC2
 * only for the launching workers' states.
 */
export function createWorkerHookPort(
  clients: { autoScaling: AutoScalingClient; ec2: EC2Client },
  ports: { fleet: WorkerHookPort['fleet']; loadBalancer: AwsLoadBalancerPort; parameters: ParameterPort },
  now: () => number,
): WorkerHookPort {
  return {
    ...ports,
    fleet: {
      ...ports.fleet,
      describeGroup: async (group) => ({
        instances: await describeGroupLifecycle(clients.autoScaling, group),
      }),
    },
    instanceStates: (ids) => describeInstanceStates(clients.ec2, ids),
    clock: { now },
  };
}
