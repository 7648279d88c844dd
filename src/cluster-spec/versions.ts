/**
 * The etcd tripod runs, in one place: the release every master installs (the official tarball,
 * checked against a pinned SHA-256), the same version tests and `tripod sandbox` build from
 * tools/etcd/go.mod (a test compares the two), and what kubeadm accepts as an external etcd.
 *
 * kubeadm's preflight refuses an external etcd older than its `MinExternalEtcdVersion`
 * (cmd/kubeadm/app/constants/constants.go of each release branch; the value of the newest patch
 * release is kept here, older patches of the same minor asked for less). kubeadm's own etcd would
 * be `DefaultEtcdVersion` (3.5.16 for 1.32), lower than the minimum it demands of an external one.
 */

/**
 * The etcd release the nodes install and the tests run. 3.5.33 rather than 3.5.24 (the minimum):
 * the Go module proxy serves etcdctl and etcdutl at 3.5.33 but not at 3.5.24, and tests must run
 * exactly what the nodes run; 3.5.33 is newer on the same 3.5 line with the fixes since.
 */
export const ETCD_VERSION = '3.5.33';

/**
 * SHA-256 of the official release tarballs `etcd-v<ETCD_VERSION>-linux-<arch>.tar.gz` (from the
 * release's SHA256SUMS, as recorded by kubespray's checksums.yml).
 */
export const ETCD_RELEASE_SHA256 = {
  amd64: '5025b5b24d81a9616b6e284ccd439b9a3df055ef8fdcdc142af3ec8f6a3b3c95',
  arm64: '0764c5c0acef155f4bfa0487791cc5776adef66315bf16ec0653883bfd463a90',
} as const;

export type EtcdArch = keyof typeof ETCD_RELEASE_SHA256;

/** The release tarball's file name for an architecture. */
export function etcdTarballName(arch: EtcdArch, version = ETCD_VERSION): string {
  return `etcd-v${version}-linux-${arch}.tar.gz`;
}

/**
 * The pod network the seed master installs when `network.cni` is `flannel` (the default): Flannel
 * in VXLAN mode, whose only node-to-node port is UDP 8472 (src/provision/security-groups.ts).
 * Flannel publishes no checksum for its manifest, so the pin is the file as tagged in git:
 * `Documentation/kube-flannel.yml` at tag `v<FLANNEL_VERSION>` (commit FLANNEL_COMMIT, "Prepare for
 * release v0.28.9", whose images are ghcr.io/flannel-io/flannel:v0.28.9 and
 * flannel-cni-plugin:v1.9.1-flannel3). Anyone can check it: `git show v0.28.9:Documentation/kube-flannel.yml
 * | sha256sum` in a clone of flannel-io/flannel. The node downloads that exact file (served
 * byte for byte from the tag), checks the SHA-256 before anything reads it, then puts the spec's
 * pod range where the manifest says FLANNEL_DEFAULT_NETWORK.
 */
export const FLANNEL_VERSION = '0.28.9';
export const FLANNEL_COMMIT = '5cd0d52648e891d73a6dcb9bb2c67d7c365cf7aa';
export const FLANNEL_MANIFEST_SHA256 = 'e875824be2f552b45711dbda91af81b17eb961d00025d914d9fef18fad8f09c0';
export const FLANNEL_MANIFEST_URL = `https://raw.githubusercontent.com/flannel-io/flannel/v${FLANNEL_VERSION}/Documentation/kube-flannel.yml`;
/** The pod range written in the manifest's net-conf.json, replaced by `network.pods`. */
export const FLANNEL_DEFAULT_NETWORK = '10.244.0.0/16';

/**
 * Kubernetes minor -> kubeadm's `MinExternalEtcdVersion` (newest patch of that minor; kubeadm
 * writes it as `3.5.24-0`, the image suffix dropped here). The minors tripod supports: a spec's
 * `kubernetesVersion` must be one of these. 1.32: read from release-1.32's constants.go; 1.31,
 * 1.33, 1.34: the same bump (kubernetes/kubernetes #134779 and its cherry-picks #134861, #135018,
 * #135020); 1.35: branched after it, and master still asks for 3.5.24.
 */
export const KUBEADM_MIN_EXTERNAL_ETCD: Readonly<Record<string, string>> = {
  '1.31': '3.5.24',
  '1.32': '3.5.24',
  '1.33': '3.5.24',
  '1.34': '3.5.24',
  '1.35': '3.5.24',
};

/** `3.5.24` -> [3, 5, 24]; undefined when not MAJOR.MINOR.PATCH. */
export function parseVersion(v: string): [number, number, number] | undefined {
  const m = /^v?(\d+)\.(\d+)\.(\d+)$/.exec(v.trim());
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : undefined;
}

/** Negative, zero or positive as a < b, a = b, a > b (both MAJOR.MINOR.PATCH). */
export function compareVersions(a: string, b: string): number {
  const x = parseVersion(a);
  const y = parseVersion(b);
  if (!x || !y) throw new Error(`not a version: ${x ? b : a}`);
  return x[0] - y[0] || x[1] - y[1] || x[2] - y[2];
}

/**
 * Why etcd `etcdVersion` cannot serve Kubernetes `kubernetesVersion` through kubeadm (the spec's
 * message), or undefined when it can. A version that is not MAJOR.MINOR.PATCH is left to the
 * schema's own format rule.
 */
export function kubernetesVersionProblem(
  kubernetesVersion: string,
  etcdVersion = ETCD_VERSION,
): string | undefined {
  const v = parseVersion(kubernetesVersion);
  if (!v) return undefined;
  const minor = `${v[0]}.${v[1]}`;
  const min = KUBEADM_MIN_EXTERNAL_ETCD[minor];
  const supported = Object.keys(KUBEADM_MIN_EXTERNAL_ETCD);
  if (min === undefined) {
    return `Kubernetes ${minor} is not supported (tripod supports ${supported.join(', ')}: the minors whose kubeadm accepts the etcd ${etcdVersion} the masters install)`;
  }
  if (compareVersions(etcdVersion, min) < 0) {
    return `kubeadm ${minor} needs an external etcd of at least ${min}, the masters install ${etcdVersion}`;
  }
  return undefined;
}

/**
 * The fingerprint of the key that signs the Kubernetes community's package repositories (every
 * minor's `core:/stable:/v1.xx/deb/Release.key` is the same key). A node refuses any other key:
 * the key is downloaded over TLS, and the pin keeps a swapped key file from being trusted on first use.
 */
export const KUBERNETES_PACKAGE_KEY_FINGERPRINT = 'DE15B14486CD377B9E876E1A234654DA9A296436';

/**
 * containerd from Ubuntu's archive: the newest build of this release line (e.g.
 * `2.2.1-0ubuntu1~24.04.3`), then held. A line, not a patch: Ubuntu's -updates pocket keeps only its
 * newest build (containerd follows upstream patch releases there), so pinning a patch would stop every
 * boot the day Ubuntu ships the next one. A line the archive no longer carries stops the boot with a
 * clear error: bump it here.
 */
export const CONTAINERD_VERSION = '2.2';

/**
 * The AWS CLI v2 release the nodes install from its official zip `awscli-exe-linux-<arch>-<version>.zip`,
 * checked against these SHA-256s before it is unpacked (as recorded by public install scripts and
 * package manifests that pin the same files).
 */
export const AWS_CLI_VERSION = '2.22.0';
export const AWS_CLI_SHA256 = {
  amd64: 'f315aa564190a12ae05a05bd8ab7b0645dd4a1ad71ce9e47dae4ff3dfeee8ceb',
  arm64: 'c932ac00901ea3c430f3829140b8dc00fa6e9b8b99d6891929a4795947de7f3e',
} as const;
