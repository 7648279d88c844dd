// A model of what kubeadm accepts in `kubeadm init|join --config FILE`, for the bootstrap tests:
// node kubeadm-config.mjs init|join FILE KUBERNETES_VERSION. Prints every problem and exits 1.
//
// Derived from kubeadm's configuration types (kubeadm.k8s.io v1beta3: Kubernetes 1.22+, v1beta4:
// 1.31+, where extra arguments became a list of {name, value}) and its validation (certificate
// names, CIDRs, the service range at most 20 bits wide, a pod range wider than a node's /24, token
// format, discovery needing CA pins). Stricter than kubeadm, on purpose: unknown fields and kinds
// (kubeadm warns), deprecated v1beta3 from 1.31, overlapping pod and service ranges, and a
// configuration that ignores preflight errors are refused too, and so are tripod's own rules: the file
// (it may hold a token) must be 0600, and `init` must encrypt Secrets at rest with an
// EncryptionConfiguration the API server's pod can see (extraArgs encryption-provider-config plus an
// extraVolumes mount of its directory; the file on the host 0600, a secretbox or aescbc key first).
import { readFileSync, statSync } from 'node:fs';
import { isIP } from 'node:net';
import { parseAllDocuments } from 'yaml';

const [command, file, version] = process.argv.slice(2);
const problems = [];
const fail = (path, message) => problems.push(`${path}: ${message}`);

const minor = Number(/^1\.(\d+)\.\d+$/.exec(version ?? '')?.[1]);
if (!Number.isInteger(minor)) fail('(version)', `not a Kubernetes version: ${version}`);
const expected = minor >= 31 ? 'v1beta4' : 'v1beta3';
const v4 = expected === 'v1beta4';

const extraArgs = { extraArgs: 'args', extraVolumes: 'volumes', ...(v4 ? { extraEnvs: 'any' } : {}) };
// kubeadm's HostPathMount and the host path types it accepts.
const hostPathMount = {
  name: 'string',
  hostPath: 'string',
  mountPath: 'string',
  readOnly: 'boolean',
  pathType: 'pathType',
};
const PATH_TYPES = [
  '',
  'DirectoryOrCreate',
  'Directory',
  'FileOrCreate',
  'File',
  'Socket',
  'CharDevice',
  'BlockDevice',
];
const apiEndpoint = { advertiseAddress: 'ip', bindPort: 'port' };
const nodeRegistration = {
  name: 'string',
  criSocket: 'string',
  taints: 'any',
  kubeletExtraArgs: 'args',
  ignorePreflightErrors: 'none',
  imagePullPolicy: 'string',
  ...(v4 ? { imagePullSerial: 'any' } : {}),
};
const kinds = {
  InitConfiguration: {
    bootstrapTokens: 'any',
    nodeRegistration,
    localAPIEndpoint: apiEndpoint,
    certificateKey: 'string',
    skipPhases: 'any',
    patches: 'any',
    ...(v4 ? { dryRun: 'any', timeouts: 'any' } : {}),
  },
  ClusterConfiguration: {
    etcd: {
      local: 'any',
      external: { endpoints: 'urls', caFile: 'string', certFile: 'string', keyFile: 'string' },
    },
    networking: { serviceSubnet: 'serviceCidr', podSubnet: 'podCidr', dnsDomain: 'string' },
    kubernetesVersion: 'kubernetesVersion',
    controlPlaneEndpoint: 'hostPort',
    apiServer: { certSANs: 'sans', ...extraArgs, ...(v4 ? {} : { timeoutForControlPlane: 'string' }) },
    controllerManager: extraArgs,
    scheduler: extraArgs,
    dns: 'any',
    certificatesDir: 'string',
    imageRepository: 'string',
    featureGates: 'any',
    clusterName: 'string',
    ...(v4
      ? {
          proxy: 'any',
          encryptionAlgorithm: 'string',
          certificateValidityPeriod: 'any',
          caCertificateValidityPeriod: 'any',
        }
      : {}),
  },
  JoinConfiguration: {
    nodeRegistration,
    caCertPath: 'string',
    discovery: {
      bootstrapToken: {
        token: 'token',
        apiServerEndpoint: 'hostPort',
        caCertHashes: 'hashes',
        unsafeSkipCAVerification: 'none',
      },
      file: 'any',
      tlsBootstrapToken: 'token',
      ...(v4 ? {} : { timeout: 'string' }),
    },
    controlPlane: { localAPIEndpoint: apiEndpoint, certificateKey: 'string' },
    skipPhases: 'any',
    patches: 'any',
    ...(v4 ? { dryRun: 'any', timeouts: 'any' } : {}),
  },
};
const allowedKinds =
  command === 'init' ? ['InitConfiguration', 'ClusterConfiguration'] : ['JoinConfiguration'];

const dnsName = /^(\*\.)?([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$/;
const cidr = (s) => {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(String(s));
  if (!m || isIP(m.slice(1, 5).join('.')) !== 4 || Number(m[5]) > 32) return undefined;
  const ip = m.slice(1, 5).reduce((n, o) => n * 256 + Number(o), 0);
  const size = 2 ** (32 - Number(m[5]));
  return { start: ip - (ip % size), end: ip - (ip % size) + size, prefix: Number(m[5]) };
};
const hostPort = (s) => {
  const m = /^(.+):(\d+)$/.exec(String(s));
  return !!m && (isIP(m[1]) !== 0 || dnsName.test(m[1])) && Number(m[2]) > 0 && Number(m[2]) < 65536;
};

const checkers = {
  any: () => undefined,
  none: () => 'tripod never sets this (no preflight error is ignored, the CA is always pinned)',
  string: (v) => (typeof v === 'string' ? undefined : 'must be a string'),
  boolean: (v) => (typeof v === 'boolean' ? undefined : 'must be true or false'),
  pathType: (v) =>
    PATH_TYPES.includes(v) ? undefined : `${v} is not a host path type (${PATH_TYPES.join(', ')})`,
  volumes: (v) => {
    if (!Array.isArray(v)) return 'must be a list of host path mounts';
    for (const [i, m] of v.entries()) {
      if (!m || typeof m !== 'object') return `[${i}] must be a mapping`;
      for (const k of Object.keys(m)) if (!(k in hostPathMount)) return `[${i}].${k}: unknown field`;
      for (const [k, t] of Object.entries(hostPathMount)) {
        if (m[k] === undefined) {
          if (k === 'name' || k === 'hostPath' || k === 'mountPath') return `[${i}].${k} is required`;
          continue;
        }
        const p = checkers[t](m[k]);
        if (p) return `[${i}].${k}: ${p}`;
      }
    }
    return undefined;
  },
  ip: (v) => (isIP(String(v)) ? undefined : `${v} is not an IP address`),
  port: (v) => (Number.isInteger(v) && v > 0 && v < 65536 ? undefined : `${v} is not a port`),
  hostPort: (v) => (hostPort(v) ? undefined : `${v} is not host:port`),
  kubernetesVersion: (v) =>
    v === `v${version}` ? undefined : `${v} is not the installed kubeadm's version v${version}`,
  urls: (v) =>
    Array.isArray(v) && v.length && v.every((u) => /^https:\/\/[^/]+:\d+$/.test(u))
      ? undefined
      : 'must be a list of https://host:port',
  sans: (v) =>
    Array.isArray(v) && v.every((n) => typeof n === 'string' && (isIP(n) || dnsName.test(n)))
      ? undefined
      : `must be a list of IP addresses and DNS names: ${JSON.stringify(v)}`,
  hashes: (v) =>
    Array.isArray(v) && v.length && v.every((h) => /^sha256:[0-9a-f]{2,64}$/.test(h))
      ? undefined
      : 'must be a list of sha256:<hex> public key pins',
  token: (v) => (/^[a-z0-9]{6}\.[a-z0-9]{16}$/.test(String(v)) ? undefined : 'is not a bootstrap token'),
  podCidr: (v) => {
    const c = cidr(v);
    if (!c) return `${v} is not an IPv4 CIDR`;
    return c.prefix > 24 ? `${v} is narrower than the /24 each node gets` : undefined;
  },
  serviceCidr: (v) => {
    const c = cidr(v);
    if (!c) return `${v} is not an IPv4 CIDR`;
    return c.prefix < 12 ? `${v} is wider than kubeadm's limit of 20 bits (/12)` : undefined;
  },
  args: (v) => {
    if (v4)
      return Array.isArray(v) &&
        v.every(
          (a) =>
            a && typeof a.name === 'string' && typeof a.value === 'string' && Object.keys(a).length === 2,
        )
        ? undefined
        : 'v1beta4 extra arguments are a list of {name, value} strings';
    return v &&
      typeof v === 'object' &&
      !Array.isArray(v) &&
      Object.values(v).every((x) => typeof x === 'string')
      ? undefined
      : 'v1beta3 extra arguments are a map of strings';
  },
};

function check(value, shape, path) {
  if (typeof shape === 'string') {
    const problem = checkers[shape](value);
    if (problem) fail(path, problem);
    return;
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) return fail(path, 'must be a mapping');
  for (const [k, v] of Object.entries(value)) {
    if (!(k in shape)) fail(`${path}.${k}`, 'unknown field');
    else check(v, shape[k], `${path}.${k}`);
  }
}

const seen = new Map();
let docs = [];
try {
  docs = parseAllDocuments(readFileSync(file, 'utf8'));
} catch (e) {
  fail(file, e.message);
}
for (const [i, doc] of docs.entries()) {
  if (doc.errors.length) fail(`document ${i}`, doc.errors[0].message);
  const d = doc.toJS();
  const where = `document ${i} (${d?.kind})`;
  if (d?.apiVersion !== `kubeadm.k8s.io/${expected}`)
    fail(`${where}.apiVersion`, `kubeadm ${version} reads kubeadm.k8s.io/${expected}, not ${d?.apiVersion}`);
  if (!allowedKinds.includes(d?.kind)) {
    fail(`${where}.kind`, `kubeadm ${command} takes ${allowedKinds.join(' and ')}`);
    continue;
  }
  if (seen.has(d.kind)) fail(where, `a second ${d.kind}`);
  seen.set(d.kind, d);
  const { apiVersion: _a, kind: _k, ...rest } = d;
  check(rest, kinds[d.kind], where);
}
const cluster = seen.get('ClusterConfiguration');
const pods = cidr(cluster?.networking?.podSubnet);
const services = cidr(cluster?.networking?.serviceSubnet);
if (pods && services && pods.start < services.end && services.start < pods.end)
  fail('ClusterConfiguration.networking', 'podSubnet and serviceSubnet overlap');
// tripod's rules, stricter than kubeadm.
try {
  const mode = statSync(file).mode & 0o777;
  if (mode !== 0o600)
    fail(file, `mode ${mode.toString(8)}: a kubeadm configuration may hold a token, tripod writes it 0600`);
} catch {}
const argValue = (args, name) =>
  Array.isArray(args) ? args.find((a) => a?.name === name)?.value : args?.[name];
if (command === 'init' && cluster) {
  const api = cluster.apiServer ?? {};
  const config = argValue(api.extraArgs, 'encryption-provider-config');
  if (!config)
    fail(
      'ClusterConfiguration.apiServer.extraArgs',
      'no encryption-provider-config: tripod encrypts Secrets at rest',
    );
  else {
    const mount = (api.extraVolumes ?? []).find((m) =>
      config.startsWith(`${m.mountPath.replace(/\/$/, '')}/`),
    );
    if (!mount)
      fail(
        'ClusterConfiguration.apiServer.extraVolumes',
        `nothing mounts ${config} into the API server's pod`,
      );
    else {
      const host = `${process.env.TRIPOD_ROOT ?? ''}${mount.hostPath}${config.slice(mount.mountPath.replace(/\/$/, '').length)}`;
      for (const p of encryptionConfigProblems(host)) fail(`encryption-provider-config ${host}`, p);
    }
  }
}

/** What kube-apiserver would refuse in an EncryptionConfiguration, and tripod's own rules. */
function encryptionConfigProblems(path) {
  let st;
  try {
    st = statSync(path);
  } catch {
    return ['missing on the host'];
  }
  const out = [];
  if ((st.mode & 0o777) !== 0o600)
    out.push(`mode ${(st.mode & 0o777).toString(8)}: it holds the key, must be 0600`);
  const c = parseAllDocuments(readFileSync(path, 'utf8'))[0]?.toJS();
  if (c?.apiVersion !== 'apiserver.config.k8s.io/v1' || c?.kind !== 'EncryptionConfiguration')
    return [...out, 'not an apiserver.config.k8s.io/v1 EncryptionConfiguration'];
  const secrets = (c.resources ?? []).find((r) => r?.resources?.includes('secrets'));
  if (!secrets) return [...out, 'does not cover secrets'];
  const [first] = secrets.providers ?? [];
  const kind = first && Object.keys(first)[0];
  const sizes = { secretbox: [32], aescbc: [16, 24, 32], aesgcm: [16, 24, 32] };
  if (!(kind in sizes))
    return [...out, `the first provider is ${kind}: Secrets would be written unencrypted`];
  const keys = first[kind]?.keys ?? [];
  if (!keys.length) out.push(`${kind} has no keys`);
  for (const k of keys) {
    const bytes = Buffer.from(String(k?.secret ?? ''), 'base64');
    if (!k?.name) out.push(`${kind} key without a name`);
    if (!/^[A-Za-z0-9+/]+=*$/.test(String(k?.secret)) || !sizes[kind].includes(bytes.length))
      out.push(`${kind} key ${k?.name}: must be base64 of ${sizes[kind].join(' or ')} bytes`);
  }
  return out;
}

if (command === 'join') {
  const d = seen.get('JoinConfiguration');
  if (!d) fail(file, 'kubeadm join --config needs a JoinConfiguration');
  else if (!d.discovery?.bootstrapToken?.apiServerEndpoint || !d.discovery.bootstrapToken.token)
    fail('JoinConfiguration.discovery.bootstrapToken', 'needs token and apiServerEndpoint');
}
if (command === 'init' && !seen.size)
  fail(file, 'kubeadm init --config needs an InitConfiguration or ClusterConfiguration');

if (problems.length) {
  for (const p of problems) console.error(`kubeadm stand-in: ${file}: ${p}`);
  process.exit(1);
}
