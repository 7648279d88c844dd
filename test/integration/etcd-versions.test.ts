/**
 * The etcd version facts (src/cluster-spec/versions.ts): the pinned release satisfies kubeadm for every
 * supported Kubernetes minor, the Go module the tests build pins the same release, the spec refuses
 * a minor kubeadm would not run on that etcd, and the local binary finder refuses Debian's 3.4.
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseSpec } from '../../src/cluster-spec/load.js';
import {
  compareVersions,
  ETCD_RELEASE_SHA256,
  ETCD_VERSION,
  KUBEADM_MIN_EXTERNAL_ETCD,
  kubernetesVersionProblem,
} from '../../src/cluster-spec/versions.js';
import { etcdVersionProblem, lowestAcceptedEtcd } from '../../src/sim/etcd-bin.js';
import { minimalSpec } from '../support/spec-text.js';

const spec = (k8s: string) =>
  minimalSpec({ name: 't', region: 'us-east-1', cidr: '10.0.0.0/16', zones: 1, kubernetesVersion: k8s });

describe('the pinned etcd', () => {
  it('is at least kubeadm MinExternalEtcdVersion of every supported Kubernetes minor', () => {
    expect(Object.keys(KUBEADM_MIN_EXTERNAL_ETCD).length).toBeGreaterThan(0);
    for (const [minor, min] of Object.entries(KUBEADM_MIN_EXTERNAL_ETCD)) {
      expect(
        compareVersions(ETCD_VERSION, min),
        `Kubernetes ${minor} needs etcd >= ${min}`,
      ).toBeGreaterThanOrEqual(0);
      expect(kubernetesVersionProblem(`${minor}.0`)).toBeUndefined();
    }
    expect(ETCD_VERSION).toMatch(/^3\.5\.\d+$/);
  });

  it('is the version tools/etcd/go.mod builds for the tests (server, etcdctl and etcdutl)', () => {
    const gomod = readFileSync('tools/etcd/go.mod', 'utf8');
    for (const mod of ['server', 'etcdctl', 'etcdutl']) {
      const m = new RegExp(`go\\.etcd\\.io/etcd/${mod}/v3 v(\\S+)`).exec(gomod);
      expect(m?.[1], `go.etcd.io/etcd/${mod}/v3 in tools/etcd/go.mod`).toBe(ETCD_VERSION);
    }
    expect(gomod).toMatch(/tool \(\s*go\.etcd\.io\/etcd\/etcdctl\/v3\s+go\.etcd\.io\/etcd\/etcdutl\/v3\s*\)/);
    expect(readFileSync('tools/etcd/etcd/main.go', 'utf8')).toContain('etcdmain.Main(os.Args)');
  });

  it('has a SHA-256 for each release tarball the nodes can download', () => {
    for (const sha of Object.values(ETCD_RELEASE_SHA256)) expect(sha).toMatch(/^[0-9a-f]{64}$/);
    expect(Object.keys(ETCD_RELEASE_SHA256).sort()).toEqual(['amd64', 'arm64']);
  });
});

describe('kubernetesVersion in the spec', () => {
  it('refuses a minor that is not in the table, at its line and column', () => {
    const r = parseSpec(spec('1.30.2'));
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.problems).toHaveLength(1);
    expect(r.problems[0]).toMatchObject({ line: 5, col: 20, path: 'kubernetesVersion' });
    expect(r.problems[0]?.message).toMatch(/Kubernetes 1\.30 is not supported \(tripod supports 1\.31,/);
  });

  it('accepts every supported minor', () => {
    for (const minor of Object.keys(KUBEADM_MIN_EXTERNAL_ETCD))
      expect(parseSpec(spec(`${minor}.4`)).ok).toBe(true);
  });

  it('refuses a minor whose kubeadm needs a newer etcd than the masters install', () => {
    expect(kubernetesVersionProblem('1.32.4', '3.5.16')).toBe(
      'kubeadm 1.32 needs an external etcd of at least 3.5.24, the masters install 3.5.16',
    );
  });

  it('leaves a malformed version to the format rule (one problem, not two)', () => {
    const r = parseSpec(spec('"1.32"'));
    expect(r.ok).toBe(false);
    if (!r.ok)
      expect(r.problems.map((p) => p.message)).toEqual(['must be a full Kubernetes version like 1.32.4']);
  });
});

describe('the local etcd finder', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tripod-etcd-bin-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('refuses Debian etcd 3.4 and 3.6, accepts the pinned release', () => {
    expect(etcdVersionProblem('3.4.23')).toMatch(/it is etcd 3\.4\.23; tripod runs etcd 3\.5\./);
    expect(etcdVersionProblem('3.6.4')).toMatch(/it is etcd 3\.6\.4/);
    expect(etcdVersionProblem(lowestAcceptedEtcd())).toBeUndefined();
    expect(etcdVersionProblem(ETCD_VERSION)).toBeUndefined();
  });

  it('refuses an etcd 3.4 found first, with a message naming scripts/setup.sh', async () => {
    const fake = join(dir, 'etcd');
    writeFileSync(fake, '#!/bin/sh\necho "etcd Version: 3.4.23"\necho "Git SHA: Not provided"\n');
    chmodSync(fake, 0o755);
    const { execFileSync } = await import('node:child_process');
    const code = `import('./src/sim/etcd-bin.ts').then((m) => { try { m.locateEtcdTool('etcd'); console.log('picked'); } catch (e) { console.log(e.message); } })`;
    const out = execFileSync('npx', ['tsx', '-e', code], {
      encoding: 'utf8',
      env: { ...process.env, TRIPOD_ETCD_BIN_DIR: dir },
    });
    expect(out).toMatch(/^refusing .*\/etcd: it is etcd 3\.4\.23; .*Build it with: bash scripts\/setup\.sh/);
  });
});

describe('the node configuration', () => {
  it('carries the pinned etcd version and SHA-256s to masters only (from src/cluster-spec/versions.ts)', async () => {
    const { nodeEnvironment } = await import('../../src/bootstrap/render.js');
    const r = parseSpec(readFileSync('examples/three-zones.yaml', 'utf8'));
    if (!r.ok) throw new Error('examples/three-zones.yaml does not parse');
    expect(nodeEnvironment(r.spec, 'master')).toMatchObject({
      TRIPOD_ETCD_VERSION: ETCD_VERSION,
      TRIPOD_ETCD_SHA_AMD64: ETCD_RELEASE_SHA256.amd64,
      TRIPOD_ETCD_SHA_ARM64: ETCD_RELEASE_SHA256.arm64,
    });
    expect(
      Object.keys(nodeEnvironment(r.spec, 'worker')).filter((k) => k.startsWith('TRIPOD_ETCD_V')),
    ).toEqual([]);
  });
});
