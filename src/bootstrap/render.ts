/**
 * A node's user data: a small self-extracting stub (well inside EC2's 16 KB limit) that writes the
 * node's configuration to /etc/tripod/node.env, unpacks the bootstrap scripts (gzip + base64, full-line
 * comments stripped) to /opt/tripod and runs `tripod-node boot`. The configuration holds names and
 * numbers only: CAs and tokens come from SSM SecureString at boot, never from user data.
 */
import { gzipSync } from 'node:zlib';
import { clusterCidrs } from '../cluster-spec/cidr.js';
import type { ClusterSpec } from '../cluster-spec/schema.js';
import {
  AWS_CLI_SHA256,
  AWS_CLI_VERSION,
  CONTAINERD_VERSION,
  ETCD_RELEASE_SHA256,
  ETCD_VERSION,
  FLANNEL_DEFAULT_NETWORK,
  FLANNEL_MANIFEST_SHA256,
  FLANNEL_MANIFEST_URL,
  KUBERNETES_PACKAGE_KEY_FINGERPRINT,
} from '../cluster-spec/versions.js';
import { clusterKeyAlias, resourceNames } from '../contract/names.js';
import {
  API_SERVER_PORT,
  bootFailurePath,
  CLUSTER_ADMIN_GROUP,
  caParameter,
  configParameter,
  ETCD_CLIENT_PORT,
  ETCD_PEER_PORT,
  joinParameterPath,
  MEMBER_STARTED_DETAIL_TYPE,
  MEMBER_STARTED_MAX_SENDS,
  MEMBER_STARTED_REPEAT_MS,
  NODE_EVENT_SOURCE,
  NODE_READY_DETAIL_TYPE,
  reconcilerClientCertParameter,
  workerJoinParameter,
} from '../contract/protocol.js';
import { workerDrainSeconds } from '../contract/worker-drain.js';
import { reconcilerConfigFromSpec } from '../heal/config.js';
import { IN_SYNC_SHARE } from '../heal/quorum.js';
import { BOOTSTRAP_SCRIPTS } from './scripts.generated.js';

export type NodeRole = 'master' | 'worker';

/** EC2's limit on user data (before its own base64 encoding). */
export const USER_DATA_LIMIT = 16 * 1024;

/**
 * What EC2 receives: the rendered script, gzip-compressed. cloud-init recognises gzip user data by its
 * magic bytes and runs the decompressed script, so the 16 KB limit applies to the compressed bytes
 * (about 60 % of the script, whose payload is itself gzip+base64). Deterministic: gzip's header
 * carries no time here, so the same script always gives the same bytes and plans stay no-ops.
 */
export const encodeUserData = (script: string): Buffer => gzipSync(script, { level: 9 });

/**
 * The Kubernetes community's package repository; a node installs kubelet, kubeadm and kubectl from
 * its channel for the spec's minor version (`<repo>/core:/stable:/v1.32/deb/`), pinned to the patch.
 */
export const KUBERNETES_APT_REPOSITORY = 'https://pkgs.k8s.io';

/** A bootstrap token stays valid this long; the masters replace it when less than half is left. */
export const WORKER_TOKEN_TTL_SECONDS = 24 * 3600;

/** The script files each role's user data carries. `tripod-node.sh` is the entry point. */
export const ROLE_SCRIPTS: Record<NodeRole, readonly string[]> = {
  master: ['lib.sh', 'master.sh', 'etcd-member.sh', 'tripod-node.sh'],
  worker: ['lib.sh', 'worker.sh', 'tripod-node.sh'],
};

/** Everything a node's scripts read from /etc/tripod/node.env, derived from the spec and protocol. */
export function nodeEnvironment(spec: ClusterSpec, role: NodeRole): Record<string, string> {
  const names = resourceNames(spec.name);
  const config = reconcilerConfigFromSpec(spec, { apiTargetGroupArn: '', serviceTargetGroupArns: [] });
  const heartbeat = spec.reconciler.lifecycleHeartbeatSeconds;
  const cidrs = clusterCidrs(spec.network);
  const pkiPrefix = caParameter(spec.name, 'etcd-ca').slice(0, -'etcd-ca'.length);
  return {
    TRIPOD_CLUSTER: spec.name,
    TRIPOD_REGION: spec.region,
    TRIPOD_ROLE: role,
    TRIPOD_K8S_VERSION: spec.kubernetesVersion,
    TRIPOD_K8S_APT_REPO: KUBERNETES_APT_REPOSITORY,
    // Pinned inputs (src/cluster-spec/versions.ts): the package key, containerd, the AWS CLI.
    TRIPOD_K8S_KEY_FINGERPRINT: KUBERNETES_PACKAGE_KEY_FINGERPRINT,
    TRIPOD_CONTAINERD_VERSION: CONTAINERD_VERSION,
    TRIPOD_AWS_CLI_VERSION: AWS_CLI_VERSION,
    TRIPOD_AWS_CLI_SHA_AMD64: AWS_CLI_SHA256.amd64,
    TRIPOD_AWS_CLI_SHA_ARM64: AWS_CLI_SHA256.arm64,
    // Empty: the node looks up the API load balancer's DNS name by TRIPOD_API_LB_NAME.
    TRIPOD_API_DNS: spec.apiEndpoint.dnsName ?? '',
    TRIPOD_API_LB_NAME: names.apiLoadBalancer,
    TRIPOD_API_PORT: String(API_SERVER_PORT),
    // The cluster configuration parameter: masters read the API load balancer's own DNS name from it.
    TRIPOD_CONFIG_PARAM: configParameter(spec.name),
    TRIPOD_POD_SUBNET: cidrs.pods,
    TRIPOD_SERVICE_SUBNET: cidrs.services,
    // The pod network the seed applies once (network.cni; src/cluster-spec/versions.ts pins its manifest).
    TRIPOD_CNI: spec.network.cni,
    TRIPOD_CNI_MANIFEST_URL: FLANNEL_MANIFEST_URL,
    TRIPOD_CNI_MANIFEST_SHA256: FLANNEL_MANIFEST_SHA256,
    TRIPOD_CNI_DEFAULT_NETWORK: FLANNEL_DEFAULT_NETWORK,
    TRIPOD_ADMIN_GROUP: CLUSTER_ADMIN_GROUP,
    TRIPOD_ETCD_CLIENT_PORT: String(ETCD_CLIENT_PORT),
    TRIPOD_ETCD_PEER_PORT: String(ETCD_PEER_PORT),
    TRIPOD_JOIN_PREFIX: joinParameterPath(spec.name),
    TRIPOD_BOOT_FAILED_PREFIX: bootFailurePath(spec.name),
    TRIPOD_PKI_PREFIX: pkiPrefix,
    // Every SecureString a node writes is encrypted with the cluster's own key (not aws/ssm).
    TRIPOD_KMS_KEY: clusterKeyAlias(spec.name),
    TRIPOD_RECONCILER_CERT_PARAM: reconcilerClientCertParameter(spec.name),
    TRIPOD_WORKER_JOIN_PARAM: workerJoinParameter(spec.name),
    TRIPOD_EVENT_SOURCE: NODE_EVENT_SOURCE,
    TRIPOD_EVENT_DETAIL_TYPE: NODE_READY_DETAIL_TYPE,
    TRIPOD_MEMBER_STARTED_DETAIL_TYPE: MEMBER_STARTED_DETAIL_TYPE,
    TRIPOD_MEMBER_STARTED_EVERY: String(MEMBER_STARTED_REPEAT_MS / 1000),
    TRIPOD_MEMBER_STARTED_MAX: String(MEMBER_STARTED_MAX_SENDS),
    // etcd's promotion test, which the node applies before its first Member Started (master.sh learner_in_sync).
    TRIPOD_LEARNER_READY_PERCENT: String(Math.round(IN_SYNC_SHARE * 100)),
    TRIPOD_GROUP: role === 'master' ? names.masterGroup : names.workerGroup,
    TRIPOD_LAUNCH_HOOK: role === 'master' ? names.masterLaunchingHook : names.workerLaunchingHook,
    TRIPOD_TERMINATE_HOOK: role === 'master' ? names.masterTerminatingHook : names.workerTerminatingHook,
    TRIPOD_SCHEDULABLE: String(role === 'master' && spec.masters.schedulable),
    // A master waits for its join parameters as long as the reconciler waits for it to boot.
    TRIPOD_JOIN_TIMEOUT: String(Math.round(config.bootTimeoutMs / 1000)),
    TRIPOD_LEAVE_TIMEOUT: String(Math.max(heartbeat, 600)),
    // Within the terminating hook's heartbeat timeout (src/provision/worker-group.ts).
    TRIPOD_DRAIN_TIMEOUT: String(workerDrainSeconds(spec)),
    TRIPOD_TOKEN_TTL_SECONDS: String(WORKER_TOKEN_TTL_SECONDS),
    TRIPOD_TOKEN_RENEW_SECONDS: String(WORKER_TOKEN_TTL_SECONDS / 2),
    TRIPOD_WATCHDOG_FAILURES: '6',
    // Masters install the official etcd release, checked against its pinned SHA-256 (src/cluster-spec/versions.ts).
    ...(role === 'master'
      ? {
          TRIPOD_ETCD_VERSION: ETCD_VERSION,
          TRIPOD_ETCD_SHA_AMD64: ETCD_RELEASE_SHA256.amd64,
          TRIPOD_ETCD_SHA_ARM64: ETCD_RELEASE_SHA256.arm64,
          // A warm pool's prepare heartbeats its launching hook three times per heartbeat timeout
          // (master.sh lifecycle_heartbeat; the hooks' timeout: src/provision/master-group.ts).
          TRIPOD_LIFECYCLE_HEARTBEAT_EVERY: String(Math.floor(heartbeat / 3)),
        }
      : {}),
  };
}

/** Single-quoted for both bash and systemd; values are names and numbers, never quotes. */
function envFile(env: Record<string, string>): string {
  return Object.entries(env)
    .map(([k, v]) => {
      if (/['\n\\]/.test(v)) throw new Error(`node setting ${k} cannot hold quotes or newlines: ${v}`);
      return `${k}='${v}'\n`;
    })
    .join('');
}

/** Drops full-line comments (not the shebang) and blank lines: the node runs the same commands. */
export function minifyShell(text: string): string {
  return text
    .split('\n')
    .filter((line, i) => !(i > 0 && /^\s*#/.test(line)) && line.trim() !== '')
    .join('\n')
    .concat('\n');
}

const FILE_END = 'TRIPOD_FILE_END';

/** A shell archive: run with the target directory as $1, it writes the role's scripts there. */
export function renderPayload(role: NodeRole): string {
  const out = ['set -eu', 'd=$1'];
  for (const name of ROLE_SCRIPTS[role]) {
    const text = BOOTSTRAP_SCRIPTS[name];
    if (text === undefined)
      throw new Error(`bootstrap script ${name} is missing: run npm run bootstrap-scripts`);
    const body = minifyShell(text);
    if (body.split('\n').includes(FILE_END))
      throw new Error(`${name} contains the archive delimiter ${FILE_END}`);
    out.push(`cat >"$d/${name}" <<'${FILE_END}'`, body + FILE_END, `chmod 755 "$d/${name}"`);
  }
  out.push('ln -sf "$d/tripod-node.sh" "$d/tripod-node"', '');
  return out.join('\n');
}

const wrap = (s: string, width: number) => s.match(new RegExp(`.{1,${width}}`, 'g'))?.join('\n') ?? '';

export function renderUserData(spec: ClusterSpec, role: NodeRole): string {
  const payload = gzipSync(renderPayload(role), { level: 9 }).toString('base64');
  const userData = [
    '#!/bin/bash',
    `# tripod ${role} of cluster ${spec.name} (Kubernetes ${spec.kubernetesVersion}), rendered by tripod.`,
    '# The bootstrap scripts (src/bootstrap/scripts) are gzip+base64 below; the log is /var/log/tripod-bootstrap.log.',
    'set -euo pipefail',
    'umask 022',
    // biome-ignore lint/suspicious/noTemplateCurlyInString: shell, not a template
    'root=${TRIPOD_ROOT:-}',
    'mkdir -p "$root/opt/tripod" "$root/etc/tripod"',
    `cat >"$root/etc/tripod/node.env" <<'TRIPOD_ENV'`,
    envFile(nodeEnvironment(spec, role)) + 'TRIPOD_ENV',
    `base64 -d <<'TRIPOD_PAYLOAD' | gzip -dc >"$root/opt/tripod/payload.sh"`,
    wrap(payload, 76),
    'TRIPOD_PAYLOAD',
    'bash "$root/opt/tripod/payload.sh" "$root/opt/tripod"',
    // biome-ignore lint/suspicious/noTemplateCurlyInString: shell, not a template
    '[ -z "${TRIPOD_EXTRACT_ONLY:-}" ] || exit 0',
    // The log is root's alone (0600), though no secret is meant to reach it.
    '(umask 077 && : >>/var/log/tripod-bootstrap.log)',
    'exec > >(tee -a /var/log/tripod-bootstrap.log) 2>&1',
    'exec "$root/opt/tripod/tripod-node" boot',
    '',
  ].join('\n');
  return userData;
}
