import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { generatedScriptsModule, readScripts } from '../../src/bootstrap/generate-scripts.js';
import {
  encodeUserData,
  minifyShell,
  type NodeRole,
  nodeEnvironment,
  ROLE_SCRIPTS,
  renderPayload,
  renderUserData,
  USER_DATA_LIMIT,
} from '../../src/bootstrap/render.js';
import { parseSpec } from '../../src/cluster-spec/load.js';
import type { ClusterSpec } from '../../src/cluster-spec/schema.js';
import {
  caParameter,
  configParameter,
  joinParameter,
  workerJoinParameter,
} from '../../src/contract/protocol.js';
import { masterHooks } from '../../src/provision/master-group.js';

const examples = readdirSync('examples')
  .filter((f) => f.endsWith('.yaml'))
  .map((f) => {
    const r = parseSpec(readFileSync(join('examples', f), 'utf8'), f);
    if (!r.ok) throw new Error(`${f} does not parse`);
    return { file: f, spec: r.spec };
  });
const roles: NodeRole[] = ['master', 'worker'];
const cases = examples.flatMap((e) => roles.map((role) => ({ ...e, role })));

const tmp = mkdtempSync(join(tmpdir(), 'tripod-render-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** The payload inside the stub's base64 heredoc. */
function decodePayload(userData: string): string {
  const m = userData.match(/<<'TRIPOD_PAYLOAD'[^\n]*\n([A-Za-z0-9+/=\n]+)\nTRIPOD_PAYLOAD\n/);
  if (!m) throw new Error('no payload heredoc');
  return gunzipSync(Buffer.from(m[1]!.replace(/\n/g, ''), 'base64')).toString('utf8');
}

/** Runs the user data with TRIPOD_ROOT set and only extraction: returns the root. */
function extract(userData: string, name: string): string {
  const root = join(tmp, name);
  const file = join(tmp, `${name}.sh`);
  writeFileSync(file, userData);
  execFileSync('bash', [file], { env: { ...process.env, TRIPOD_ROOT: root, TRIPOD_EXTRACT_ONLY: '1' } });
  return root;
}

/** TRIPOD_* variables the scripts read, and those of them without a default (`${TRIPOD_X:=...}`, `${TRIPOD_X:-...}`). */
function settings(files: readonly string[]): { read: Set<string>; required: Set<string> } {
  const scripts = readScripts();
  const used = new Set<string>();
  const defaulted = new Set<string>();
  for (const f of files) {
    const text = scripts[f]!;
    for (const m of text.matchAll(/\$\{?(TRIPOD_[A-Z0-9_]+)/g)) used.add(m[1]!);
    for (const m of text.matchAll(/\$\{(TRIPOD_[A-Z0-9_]+):(=|-[^}])/g)) defaulted.add(m[1]!);
  }
  return { read: used, required: new Set([...used].filter((v) => !defaulted.has(v))) };
}

const SECRET_PATTERNS = [
  /-----BEGIN [A-Z ]*PRIVATE KEY-----/,
  /-----BEGIN CERTIFICATE-----/,
  /\b[a-z0-9]{6}\.[a-z0-9]{16}\b/, // a kubeadm bootstrap token
  /\bAKIA[0-9A-Z]{16}\b/,
  /aws_secret_access_key|AWS_SECRET_ACCESS_KEY=/,
];

describe('user data for every example spec and role', () => {
  it.each(cases)('$file $role: within the 16 KB limit as EC2 receives it (gzip)', ({ spec, role }) => {
    const script = renderUserData(spec, role);
    const sent = encodeUserData(script);
    expect(sent.length).toBeLessThan(USER_DATA_LIMIT);
    // cloud-init runs gzip user data decompressed: the bytes carry exactly the script
    expect(sent.subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b]));
    expect(gunzipSync(sent).toString('utf8')).toBe(script);
  });

  it.each(cases)('$file $role: every setting the scripts read is filled in', ({ spec, role }) => {
    const env = nodeEnvironment(spec, role);
    const { required } = settings(ROLE_SCRIPTS[role]);
    const optional = new Set(['TRIPOD_API_DNS']); // empty: look the load balancer up
    for (const v of required) {
      expect(env, `${v} is read by the ${role} scripts`).toHaveProperty(v);
      if (!optional.has(v)) expect(env[v], v).not.toBe('');
    }
    // and nothing is rendered that no script reads
    const readByAnyRole = new Set([
      ...settings(ROLE_SCRIPTS.master).read,
      ...settings(ROLE_SCRIPTS.worker).read,
    ]);
    for (const k of Object.keys(env)) expect(readByAnyRole, k).toContain(k);
    const userData = renderUserData(spec, role);
    expect(userData).not.toMatch(/@@|\{\{|\}\}|undefined|\[object /);
  });

  it.each(cases)('$file $role: no secret in plain user data', ({ spec, role }) => {
    const userData = renderUserData(spec, role);
    for (const text of [userData, decodePayload(userData)]) {
      for (const p of SECRET_PATTERNS) expect(text).not.toMatch(p);
    }
  });

  it.each(cases)('$file $role: the stub unpacks to the full scripts, which parse', ({ file, spec, role }) => {
    const userData = renderUserData(spec, role);
    expect(decodePayload(userData)).toBe(renderPayload(role));
    const root = extract(userData, `${file}-${role}`);
    const scripts = readScripts();
    for (const name of ROLE_SCRIPTS[role]) {
      const path = join(root, 'opt/tripod', name);
      expect(readFileSync(path, 'utf8')).toBe(minifyShell(scripts[name]!));
      execFileSync('bash', ['-n', path]);
    }
    const env = readFileSync(join(root, 'etc/tripod/node.env'), 'utf8');
    const sourced = execFileSync('bash', ['-c', `set -a; . "$0"; env`, join(root, 'etc/tripod/node.env')], {
      env: {},
    }).toString();
    for (const [k, v] of Object.entries(nodeEnvironment(spec, role))) {
      expect(sourced).toContain(`${k}=${v}\n`);
      expect(env).toContain(`${k}='${v}'`);
    }
    // the entry point is there and answers
    const r = (() => {
      try {
        execFileSync(join(root, 'opt/tripod/tripod-node'), ['nonsense'], {
          env: { ...process.env, TRIPOD_ENV_FILE: join(root, 'etc/tripod/node.env') },
          stdio: 'pipe',
        });
        return { status: 0, stderr: '' };
      } catch (e) {
        const err = e as { status: number; stderr: Buffer };
        return { status: err.status, stderr: err.stderr.toString() };
      }
    })();
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('usage: tripod-node boot|');
  });
});

describe('node settings come from the spec and the protocol', () => {
  const spec = examples.find((e) => e.file === 'three-zones.yaml')!.spec;
  const withDns = examples.find((e) => e.file === 'four-zones.yaml')!.spec;

  it('SSM names match src/contract/protocol.ts', () => {
    const env = nodeEnvironment(spec, 'master');
    for (const ca of ['etcd-ca', 'kubernetes-ca', 'front-proxy-ca', 'service-account'] as const) {
      expect(env.TRIPOD_PKI_PREFIX + ca).toBe(caParameter(spec.name, ca));
    }
    expect(env.TRIPOD_JOIN_PREFIX + 'i-0abc').toBe(joinParameter(spec.name, 'i-0abc'));
    expect(env.TRIPOD_WORKER_JOIN_PARAM).toBe(workerJoinParameter(spec.name));
  });

  it("kubeadm's pod and service ranges are the spec's (or its defaults), and the masters find the configuration parameter", () => {
    const env = nodeEnvironment(spec, 'master');
    expect([env.TRIPOD_POD_SUBNET, env.TRIPOD_SERVICE_SUBNET]).toEqual(['10.244.0.0/16', '10.96.0.0/12']);
    const own = { ...spec, network: { ...spec.network, pods: '100.64.0.0/16', services: '100.65.0.0/20' } };
    expect([
      nodeEnvironment(own, 'master').TRIPOD_POD_SUBNET,
      nodeEnvironment(own, 'master').TRIPOD_SERVICE_SUBNET,
    ]).toEqual(['100.64.0.0/16', '100.65.0.0/20']);
    expect(env.TRIPOD_CONFIG_PARAM).toBe(configParameter(spec.name));
  });

  it('no bootstrap script ignores a kubeadm preflight error', () => {
    for (const [name, text] of Object.entries(readScripts())) {
      expect(`${name}: ${/ignore-?preflight-?errors/i.test(text)}`).toBe(`${name}: false`);
    }
  });

  it('the pinned version, groups and hooks per role', () => {
    const m = nodeEnvironment(spec, 'master');
    const w = nodeEnvironment(spec, 'worker');
    expect(m.TRIPOD_K8S_VERSION).toBe(spec.kubernetesVersion);
    expect([m.TRIPOD_GROUP, m.TRIPOD_TERMINATE_HOOK]).toEqual([
      'demo-eu-masters',
      'tripod-master-terminating',
    ]);
    expect([w.TRIPOD_GROUP, w.TRIPOD_TERMINATE_HOOK]).toEqual([
      'demo-eu-workers',
      'tripod-worker-terminating',
    ]);
    expect(m.TRIPOD_ROLE).toBe('master');
    expect(w.TRIPOD_ROLE).toBe('worker');
  });

  it("the spec's API DNS name, or the load balancer's name to look it up", () => {
    expect(nodeEnvironment(withDns, 'worker').TRIPOD_API_DNS).toBe('api.demo-us.example.com');
    expect(nodeEnvironment(spec, 'worker').TRIPOD_API_DNS).toBe('');
    expect(nodeEnvironment(spec, 'worker').TRIPOD_API_LB_NAME).toBe('demo-eu-api');
  });

  it('schedulable masters lose their taint, workers never have it', () => {
    const schedulable: ClusterSpec = { ...spec, masters: { ...spec.masters, schedulable: true } };
    expect(nodeEnvironment(spec, 'master').TRIPOD_SCHEDULABLE).toBe('false');
    expect(nodeEnvironment(schedulable, 'master').TRIPOD_SCHEDULABLE).toBe('true');
    expect(nodeEnvironment(schedulable, 'worker').TRIPOD_SCHEDULABLE).toBe('false');
  });

  it('a master waits for its join parameters as long as the reconciler waits for it', () => {
    const slow: ClusterSpec = {
      ...spec,
      reconciler: { ...spec.reconciler, lifecycleHeartbeatSeconds: 1800 },
    };
    expect(nodeEnvironment(spec, 'master').TRIPOD_JOIN_TIMEOUT).toBe('900');
    expect(nodeEnvironment(slow, 'master').TRIPOD_JOIN_TIMEOUT).toBe('1800');
  });

  it("a warm pool's prepare heartbeats its launching hook three times per the hook's heartbeat timeout", () => {
    const quick: ClusterSpec = { ...spec, reconciler: { ...spec.reconciler, lifecycleHeartbeatSeconds: 30 } };
    expect(masterHooks(spec).map((h) => h.heartbeatTimeout)).toEqual([600, 600]);
    expect(nodeEnvironment(spec, 'master').TRIPOD_LIFECYCLE_HEARTBEAT_EVERY).toBe('200');
    expect(nodeEnvironment(quick, 'master').TRIPOD_LIFECYCLE_HEARTBEAT_EVERY).toBe('10');
  });

  it('minifyShell keeps the shebang and commands, drops comments and blank lines', () => {
    expect(minifyShell('#!/bin/bash\n# c\n\n  # d\necho "#x" # e\n')).toBe('#!/bin/bash\necho "#x" # e\n');
  });
});

describe('the embedded scripts', () => {
  it('src/bootstrap/scripts.generated.ts is up to date (npm run bootstrap-scripts)', () => {
    expect(readFileSync('src/bootstrap/scripts.generated.ts', 'utf8')).toBe(generatedScriptsModule());
  });
});
