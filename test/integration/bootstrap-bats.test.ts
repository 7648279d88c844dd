/**
 * Runs the bats tests of the node scripts (test/bootstrap/*.bats) so they count in the suite, against
 * the scripts a rendered user data unpacks (comments stripped): what the nodes run is what is tested.
 * test/integration/bootstrap-render.test.ts checks that those are the scripts in src/bootstrap/scripts (the
 * generated module is fresh); `bats test/bootstrap` runs the same tests on the sources directly.
 *
 * The same run is the node side of the IAM contract (test/support/iam.ts; the rest is in
 * test/integration/iam-contract.test.ts): the `aws` stand-in logs every call of master.bats and worker.bats
 * ($AWS_LOG), and each is evaluated against the master or worker role of infra/tripod-cluster.yaml.
 * Each bats file runs once (master.bats alone takes minutes on a busy machine).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { renderUserData } from '../../src/bootstrap/render.js';
import { parseSpec } from '../../src/cluster-spec/load.js';
import { etcdBinary } from '../../src/sim/etcd-bin.js';
import {
  cliCalls,
  clusterWorld,
  denials,
  IamRecorder,
  loadTemplates,
  type RecordedCall,
  resolveRoles,
} from '../support/iam.js';
import { NODE_ROLES, unneededStatements } from '../support/iam-needed.js';

const batsFiles = readdirSync('test/bootstrap').filter((f) => f.endsWith('.bats'));
/** The bats files whose `aws` calls are the node roles' (the region and cluster of helpers.bash). */
const NODE_BATS: Array<[file: string, role: 'master' | 'worker']> = [
  ['master.bats', 'master'],
  ['worker.bats', 'worker'],
];
const REGION = 'eu-west-1';
const CLUSTER = 't1';
const tmp = mkdtempSync(join(tmpdir(), 'tripod-bats-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

// master.bats runs many minutes on a loaded 2-core machine (420 s seen): many short processes.
const BATS_TIMEOUT = 900_000;

interface BatsRun {
  stdout: string;
  stderr: string;
  status: number | null;
  failed: string[];
  passed: string[];
  /** The `aws` stand-in's log (AWS_LOG) of a node-role file, else undefined. */
  awsLog?: string;
}

const runs = new Map<string, BatsRun>();

/** Runs `file` once (the first caller runs it, later ones get the same run). */
function bats(file: string): BatsRun {
  const done = runs.get(file);
  if (done) return done;
  const scriptsDir = unpacked(file.startsWith('worker') ? 'worker' : 'master');
  const awsLog = NODE_BATS.some(([f]) => f === file) ? join(tmp, `${file}.aws.log`) : undefined;
  const r = spawnSync('bats', ['--tap', join('test/bootstrap', file)], {
    encoding: 'utf8',
    // real-etcd.bats runs the release the tests run (src/sim/etcd-bin.ts), not whatever etcd is on PATH
    env: {
      ...process.env,
      BOOTSTRAP_SCRIPTS_DIR: scriptsDir,
      TRIPOD_TEST_ETCD_BIN: etcdBinary(),
      ...(awsLog ? { AWS_LOG: awsLog } : {}),
    },
  });
  if (r.error) throw new Error(`bats is not installed (bash scripts/setup.sh): ${r.error.message}`);
  const lines = r.stdout.split('\n');
  const run: BatsRun = {
    stdout: r.stdout,
    stderr: r.stderr,
    status: r.status,
    failed: lines.filter((l) => l.startsWith('not ok')),
    passed: lines.filter((l) => l.startsWith('ok')),
    awsLog: awsLog && (existsSync(awsLog) ? readFileSync(awsLog, 'utf8') : ''),
  };
  runs.set(file, run);
  return run;
}

const scriptDirs = new Map<string, string>();

/** Unpacks the rendered user data of `role` (once) and returns its script directory. */
function unpacked(role: 'master' | 'worker'): string {
  const done = scriptDirs.get(role);
  if (done) return done;
  const root = join(tmp, role);
  const r = parseSpec(readFileSync('examples/three-zones.yaml', 'utf8'));
  if (!r.ok) throw new Error('examples/three-zones.yaml does not parse');
  writeFileSync(`${root}.sh`, renderUserData(r.spec, role));
  execFileSync('bash', [`${root}.sh`], {
    env: { ...process.env, TRIPOD_ROOT: root, TRIPOD_EXTRACT_ONLY: '1' },
  });
  scriptDirs.set(role, join(root, 'opt/tripod'));
  return scriptDirs.get(role)!;
}

describe('bats: the node scripts with stand-ins for apt, systemctl, kubeadm, aws and curl', () => {
  it.each(batsFiles)(
    '%s',
    (file) => {
      const r = bats(file);
      expect(r.failed, r.stdout + r.stderr).toEqual([]);
      expect(r.passed.length).toBeGreaterThan(0);
      expect(r.status).toBe(0);
    },
    BATS_TIMEOUT,
  );
});

const recordings = new Map<string, Promise<RecordedCall[]>>();

/** The node scripts' calls of `file`, recorded (once) as `role` (its world: the cluster's, its own group). */
function nodeCalls(file: string, role: 'master' | 'worker'): Promise<RecordedCall[]> {
  const done = recordings.get(file);
  if (done) return done;
  const recording = record(file, role);
  recordings.set(file, recording);
  return recording;
}

async function record(file: string, role: 'master' | 'worker'): Promise<RecordedCall[]> {
  const recorder = new IamRecorder(REGION, resolveRoles(loadTemplates(), REGION, { ClusterName: CLUSTER }));
  const cli = cliCalls(bats(file).awsLog ?? '');
  expect(cli.length).toBeGreaterThan(3);
  for (const c of cli)
    await recorder.recordOffline(
      role,
      c,
      clusterWorld(CLUSTER, () => (role === 'worker' ? `${CLUSTER}-workers` : `${CLUSTER}-masters`)),
    );
  return recorder.calls;
}

describe('node and worker roles: the node scripts (bats, aws stand-in)', () => {
  it.each(NODE_BATS)(
    '%s: every aws call is allowed for the %s role',
    async (file, role) => {
      const recorded = await nodeCalls(file, role);
      const denied = await denials(resolveRoles(loadTemplates(), REGION, { ClusterName: CLUSTER }), recorded);
      if (denied.length > 0) throw new Error(`${denied.length} denied:\n${denied.join('\n')}`);
    },
    BATS_TIMEOUT,
  );

  it(
    'every statement of the master and worker roles (and of the key policy for them) is needed: without any one of them, a recorded call is denied',
    async () => {
      const recorded = (await Promise.all(NODE_BATS.map(([file, role]) => nodeCalls(file, role)))).flat();
      expect(recorded.length, 'the runs above recorded calls').toBeGreaterThan(0);
      const unused = await unneededStatements({
        roles: NODE_ROLES,
        recorded,
        load: loadTemplates,
        resolve: (_c, t) => resolveRoles(t, REGION, { ClusterName: CLUSTER }),
      });
      if (unused.length > 0)
        throw new Error(`no recorded call needs these statements (${unused.length}):\n${unused.join('\n')}`);
    },
    BATS_TIMEOUT,
  );
});
