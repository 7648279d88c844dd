/**
 * The contract between the reconciler and the nodes' bootstrap: SSM parameter names, etcd ports and
 * the join handshake. One place, imported by the reconciler, the bootstrap renderer and the simulator.
 *
 * Join handshake (a master):
 *  1. The instance boots in Pending:Wait and polls `joinParameter(cluster, instanceId)`.
 *  2. The reconciler adds it as an etcd learner (or, for a brand-new cluster, picks it as the seed)
 *     and only then publishes the JSON `JoinParameters` there.
 *  3. The node starts etcd with `--initial-cluster-state existing` (or `new` for the seed). Once its
 *     member serves it sends a `tripod.node` "Member Started" event, and repeats it every
 *     `MEMBER_STARTED_REPEAT_MS` while the member is still a learner (at most
 *     `MEMBER_STARTED_MAX_SENDS` times): a level-triggered nudge, so a promotion tried too early
 *     ("not in sync") is retried within seconds without the reconciler keeping any timer.
 *  4. The reconciler promotes the caught-up learner; the node then starts the control plane and,
 *     when its own /readyz passes, sends a `tripod.node` "Node Ready" event.
 *  5. The reconciler registers the node in the API target group and completes the lifecycle action
 *     CONTINUE.
 */

export const ETCD_CLIENT_PORT = 2379;
export const ETCD_PEER_PORT = 2380;
export const API_SERVER_PORT = 6443;

export const parameterRoot = (cluster: string) => `/tripod/${cluster}`;
/** The cluster configuration the Lambda and the nodes read (JSON of ReconcilerConfig). */
export const configParameter = (cluster: string) => `${parameterRoot(cluster)}/config`;
/** The reconciler's published status document (JSON). */
export const statusParameter = (cluster: string) => `${parameterRoot(cluster)}/status`;
/** Join parameters for one instance (JSON of JoinParameters). */
export const joinParameter = (cluster: string, instanceId: string) =>
  `${parameterRoot(cluster)}/join/${instanceId}`;
export const joinParameterPath = (cluster: string) => `${parameterRoot(cluster)}/join/`;
/**
 * A master whose bootstrap failed writes a short reason here (String); the reconciler then completes
 * its launching lifecycle action ABANDON instead of waiting for the boot timeout.
 */
export const bootFailureParameter = (cluster: string, instanceId: string) =>
  `${parameterRoot(cluster)}/boot-failed/${instanceId}`;
export const bootFailurePath = (cluster: string) => `${parameterRoot(cluster)}/boot-failed/`;
/**
 * The cluster's own roles (infra/tripod-cluster.yaml): `tripod-<cluster>-master|worker|reconciler`.
 */
export type ClusterRole = 'master' | 'worker' | 'reconciler' | 'admin';
export const clusterRoleName = (cluster: string, role: ClusterRole) => `tripod-${cluster}-${role}`;

/**
 * A node's signal (`boot-failed/<id>`, `workers/drained/<id>`) counts only when the instance wrote
 * it itself: IAM lets every node of a role write every such name, but SSM records who last wrote a
 * parameter (DescribeParameters' LastModifiedUser), and an EC2 instance's role session is named
 * after the instance: `arn:<partition>:sts::<account>:assumed-role/<role>/<instance-id>`. A pod on
 * another node holds that node's session, never this one's. Undefined when the writer is the
 * instance; else why the signal is not trusted.
 */
export function signalWriterProblem(
  writer: string | undefined,
  cluster: string,
  role: 'master' | 'worker',
  instanceId: string,
): string | undefined {
  const expected = `assumed-role/${clusterRoleName(cluster, role)}/${instanceId}`;
  const m = /^arn:aws[a-z-]*:sts::\d{12}:(assumed-role\/[^/]+\/[^/]+)$/.exec(writer ?? '');
  if (m?.[1] === expected) return undefined;
  return `written by ${writer ?? 'an unknown writer'}, not by ${instanceId}'s own session (${expected})`;
}

/** CA material (SecureString), created once by the seed. */
export const caParameter = (
  cluster: string,
  name: 'etcd-ca' | 'kubernetes-ca' | 'front-proxy-ca' | 'service-account',
) => `${parameterRoot(cluster)}/pki/${name}`;
/**
 * The Kubernetes group bound to cluster-admin by the seed (a ClusterRoleBinding applied once): the
 * short-lived client certificates `tripod kubeconfig` signs with the kubernetes-ca carry it as O=.
 */
export const CLUSTER_ADMIN_GROUP = 'tripod:cluster-admins';
/** The reconciler's etcd client certificate and key (SecureString). */
export const reconcilerClientCertParameter = (cluster: string) =>
  `${parameterRoot(cluster)}/pki/reconciler-client`;
/** Worker bootstrap token (SecureString), kept fresh by the masters. */
export const workerJoinParameter = (cluster: string) => `${parameterRoot(cluster)}/worker-join`;

export const peerURL = (ip: string, scheme: 'https' | 'http' = 'https', port = ETCD_PEER_PORT) =>
  `${scheme}://${ip}:${port}`;
export const clientURL = (ip: string, scheme: 'https' | 'http' = 'https', port = ETCD_CLIENT_PORT) =>
  `${scheme}://${ip}:${port}`;

/** The host (IP) of a peer or client URL (`https://10.0.1.5:2380` -> `10.0.1.5`); the URL itself if it has none. */
export const hostOfURL = (url: string): string =>
  /^[a-z]+:\/\/\[?([^\]/]+?)\]?(?::\d+)?(?:\/|$)/.exec(url)?.[1] ?? url;

/** The custom EventBridge source and detail-type a node sends when its API server is ready. */
export const NODE_EVENT_SOURCE = 'tripod.node';
export const NODE_READY_DETAIL_TYPE = 'Node Ready';
/** The detail-type a master sends once its etcd member serves, repeated while it is a learner. */
export const MEMBER_STARTED_DETAIL_TYPE = 'Member Started';
/** Every detail-type a node may send (the EventBridge rule and the node role's PutEvents allow these). */
export const NODE_DETAIL_TYPES = [NODE_READY_DETAIL_TYPE, MEMBER_STARTED_DETAIL_TYPE] as const;
/** How often a learner's node repeats "Member Started", and how many times at most. */
export const MEMBER_STARTED_REPEAT_MS = 10_000;
export const MEMBER_STARTED_MAX_SENDS = 30;

/**
 * The restore record (SSM, JSON of RestoreRecord) written by `tripod restore`: while it exists the
 * reconciler makes no membership change, and the seed's bootstrap restores `key` instead of
 * starting an empty cluster. Removed by the clear-restore step.
 */
export const restoreParameter = (cluster: string): string => `${parameterRoot(cluster)}/restore`;

/**
 * The backup status (JSON of BackupStatusDocument, heal/backup-policy.ts): the newest snapshot and
 * the last failure, written by the snapshot invocation; the pass reads it (ObservedState.backup).
 */
export const backupStatusParameter = (cluster: string): string => `${parameterRoot(cluster)}/backup`;

/** The event the reconciler sends itself to take a snapshot in an invocation of its own. */
export const SNAPSHOT_EVENT_SOURCE = 'tripod.reconciler';
export const SNAPSHOT_DETAIL_TYPE = 'Snapshot Requested';

/**
 * The durable record that this cluster's etcd exists (JSON `{ "recordedAt": ISO time }`), written once
 * by the reconciler when it first sees a started voter. While it exists tripod never seeds a new
 * cluster, whatever the status document says.
 */
export const clusterRecordParameter = (cluster: string): string => `${parameterRoot(cluster)}/etcd-cluster`;

/** Tags on everything tripod owns. */
export const CLUSTER_TAG = 'tripod:cluster';
export const MANAGED_BY_TAG = 'tripod:managed-by';
export const MANAGED_BY_VALUE = 'tripod';
/** On the master group: which role a group plays. */
export const ROLE_TAG = 'tripod:role';
