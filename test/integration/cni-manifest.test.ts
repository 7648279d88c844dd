/**
 * The pod network the seed applies (network.cni, src/cluster-spec/versions.ts): the pin, and the manifest as
 * the node renders it (the node's own cni_manifest: SHA-256 check, then network.pods in place of the
 * manifest's range) validated offline against the Kubernetes API schemas of every supported minor by
 * kubernetes-validate (pinned in scripts/setup.sh, in .venv), in strict mode (unknown fields refused).
 *
 * The upstream manifest is not kept in this repository (third-party file): the test reads it from
 * TRIPOD_CNI_MANIFEST or .tripod/cni/ (scripts/setup.sh fetches it from flannel's Go module), and refuses a file whose SHA-256 is not the pin.
 * tripod's own manifests (the cluster-admin binding) are validated always.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { nodeEnvironment } from '../../src/bootstrap/render.js';
import { parseSpec } from '../../src/cluster-spec/load.js';
import {
  FLANNEL_DEFAULT_NETWORK,
  FLANNEL_MANIFEST_SHA256,
  FLANNEL_MANIFEST_URL,
  FLANNEL_VERSION,
  KUBEADM_MIN_EXTERNAL_ETCD,
} from '../../src/cluster-spec/versions.js';

const VALIDATE = '.venv/bin/kubernetes-validate';
const SCRIPTS = 'src/bootstrap/scripts';
const fileName = `kube-flannel-v${FLANNEL_VERSION}.yml`;
const candidates = [process.env.TRIPOD_CNI_MANIFEST, join('.tripod/cni', fileName)].filter(
  (p): p is string => !!p,
);
const manifestFile = candidates.find((p) => existsSync(p));

const tmp = mkdtempSync(join(tmpdir(), 'tripod-cni-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
const minors = Object.keys(KUBEADM_MIN_EXTERNAL_ETCD);

function validate(file: string, minor: string) {
  const r = spawnSync(VALIDATE, ['--strict', '--quiet', '-k', `${minor}.0`, file], { encoding: 'utf8' });
  if (r.error)
    throw new Error(
      `kubernetes-validate is not installed: run \`bash scripts/setup.sh\` (${r.error.message})`,
    );
  return r;
}

/** Runs the node's own functions (lib.sh, master.sh) in bash with `env`; curl serves `served`. */
function nodeBash(script: string, env: Record<string, string>, served?: string) {
  const curl = served ? `curl() { cp ${JSON.stringify(served)} "$3"; }` : 'curl() { return 22; }';
  return spawnSync(
    'bash',
    ['-c', `set -euo pipefail; . ${SCRIPTS}/lib.sh; . ${SCRIPTS}/master.sh; ${curl}; ${script}`],
    { encoding: 'utf8', env: { ...process.env, TRIPOD_SLEEP: 'true', TRIPOD_ROOT: tmp, ...env } },
  );
}

const spec = (() => {
  const r = parseSpec(readFileSync('examples/three-zones.yaml', 'utf8'));
  if (!r.ok) throw new Error('examples/three-zones.yaml does not parse');
  return r.spec;
})();

describe('the pinned pod network', () => {
  it('is Flannel at a release tag, pinned by SHA-256, and reaches the master node.env', () => {
    expect(FLANNEL_VERSION).toMatch(/^\d+\.\d+\.\d+$/);
    expect(FLANNEL_MANIFEST_URL).toContain(`/v${FLANNEL_VERSION}/`);
    expect(FLANNEL_MANIFEST_SHA256).toMatch(/^[0-9a-f]{64}$/);
    const env = nodeEnvironment({ ...spec, network: { ...spec.network, pods: '172.20.0.0/16' } }, 'master');
    expect(env).toMatchObject({
      TRIPOD_CNI: 'flannel',
      TRIPOD_CNI_MANIFEST_URL: FLANNEL_MANIFEST_URL,
      TRIPOD_CNI_MANIFEST_SHA256: FLANNEL_MANIFEST_SHA256,
      TRIPOD_CNI_DEFAULT_NETWORK: FLANNEL_DEFAULT_NETWORK,
      TRIPOD_POD_SUBNET: '172.20.0.0/16',
      TRIPOD_ADMIN_GROUP: 'tripod:cluster-admins',
    });
    expect(nodeEnvironment({ ...spec, network: { ...spec.network, cni: 'none' } }, 'master').TRIPOD_CNI).toBe(
      'none',
    );
  });

  it('the cluster-admin binding the seed applies validates against every supported minor', () => {
    const r = nodeBash('admin_rbac', { TRIPOD_ADMIN_GROUP: 'tripod:cluster-admins' });
    expect(r.status, r.stderr).toBe(0);
    const file = join(tmp, 'admin-rbac.yaml');
    writeFileSync(file, r.stdout);
    for (const minor of minors) {
      const v = validate(file, minor);
      expect(v.status, `${minor}: ${v.stdout}${v.stderr}`).toBe(0);
    }
  });

  it(`kube-flannel.yml v${FLANNEL_VERSION} as the node renders it (pods 172.20.0.0/16) validates offline against every supported minor (${candidates.join(', ')})`, () => {
    // scripts/setup.sh puts it in .tripod/cni/ (from flannel's Go module, checked against the pin)
    expect(manifestFile, `no ${fileName}: run bash scripts/setup.sh`).toBeDefined();
    const bytes = readFileSync(manifestFile!);
    expect(sha256(bytes), `${manifestFile} is not the pinned manifest`).toBe(FLANNEL_MANIFEST_SHA256);
    const out = join(tmp, 'cni.yaml');
    const env = {
      TRIPOD_CNI_MANIFEST_URL: FLANNEL_MANIFEST_URL,
      TRIPOD_CNI_MANIFEST_SHA256: FLANNEL_MANIFEST_SHA256,
      TRIPOD_CNI_DEFAULT_NETWORK: FLANNEL_DEFAULT_NETWORK,
      TRIPOD_POD_SUBNET: '172.20.0.0/16',
    };
    const r = nodeBash(`cni_manifest ${JSON.stringify(out)}`, env, manifestFile);
    expect(r.status, r.stderr).toBe(0);
    const docs = parseAllDocuments(readFileSync(out, 'utf8')).map((d) => d.toJS());
    const config = docs.find((d) => d?.kind === 'ConfigMap');
    const net = JSON.parse(config.data['net-conf.json']);
    expect(net).toMatchObject({ Network: '172.20.0.0/16', Backend: { Type: 'vxlan' } });
    const ds = docs.find((d) => d?.kind === 'DaemonSet');
    const images = [...ds.spec.template.spec.initContainers, ...ds.spec.template.spec.containers].map(
      (c: { image: string }) => c.image,
    );
    expect(images).toContain(`ghcr.io/flannel-io/flannel:v${FLANNEL_VERSION}`);
    for (const minor of minors) {
      const v = validate(out, minor);
      expect(v.status, `${minor}: ${v.stdout}${v.stderr}`).toBe(0);
    }
  });

  it('the node refuses a manifest whose SHA-256 is not the pin, and applies nothing', () => {
    const served = join(tmp, 'tampered.yml');
    writeFileSync(served, `"Network": "${FLANNEL_DEFAULT_NETWORK}"\n`);
    const r = nodeBash(
      `cni_manifest ${JSON.stringify(join(tmp, 'x.yaml'))}`,
      {
        TRIPOD_CNI_MANIFEST_URL: FLANNEL_MANIFEST_URL,
        TRIPOD_CNI_MANIFEST_SHA256: FLANNEL_MANIFEST_SHA256,
        TRIPOD_CNI_DEFAULT_NETWORK: FLANNEL_DEFAULT_NETWORK,
        TRIPOD_POD_SUBNET: '172.20.0.0/16',
      },
      served,
    );
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain(`does not match its pinned SHA-256 ${FLANNEL_MANIFEST_SHA256}`);
    expect(existsSync(join(tmp, 'x.yaml'))).toBe(false);
  });
});
