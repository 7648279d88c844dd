/**
 * Runs the bats tests of the node scripts (test/bootstrap/*.bats) so they count in the suite, against
 * the scripts a rendered user data unpacks (comments stripped): what the nodes run is what is tested.
 * test/bootstrap-render.test.ts checks that those are the scripts in src/bootstrap/scripts (the
 * generated module is fresh); `bats test/bootstrap` runs the same tests on the sources directly.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { renderUserData } from '../src/bootstrap/render.js';
import { etcdBinary } from '../src/sim/etcd-bin.js';
import { parseSpec } from '../src/spec/load.js';

const batsFiles = readdirSync('test/bootstrap').filter((f) => f.endsWith('.bats'));
const tmp = mkdtempSync(join(tmpdir(), 'tripod-bats-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function bats(file: string, scriptsDir: string) {
  const r = spawnSync('bats', ['--tap', join('test/bootstrap', file)], {
    encoding: 'utf8',
    // real-etcd.bats runs the release the tests run (src/sim/etcd-bin.ts), not whatever etcd is on PATH
    env: { ...process.env, BOOTSTRAP_SCRIPTS_DIR: scriptsDir, TRIPOD_TEST_ETCD_BIN: etcdBinary() },
  });
  if (r.error) throw new Error(`bats is not installed (bash scripts/setup.sh): ${r.error.message}`);
  const failed = r.stdout.split('\n').filter((l) => l.startsWith('not ok'));
  const passed = r.stdout.split('\n').filter((l) => l.startsWith('ok'));
  return { ...r, failed, passed };
}

/** Unpacks the rendered user data of `role` and returns its script directory. */
function unpacked(role: 'master' | 'worker'): string {
  const r = parseSpec(readFileSync('examples/three-zones.yaml', 'utf8'));
  if (!r.ok) throw new Error('examples/three-zones.yaml does not parse');
  const root = join(tmp, role);
  writeFileSync(`${root}.sh`, renderUserData(r.spec, role));
  execFileSync('bash', [`${root}.sh`], {
    env: { ...process.env, TRIPOD_ROOT: root, TRIPOD_EXTRACT_ONLY: '1' },
  });
  return join(root, 'opt/tripod');
}

describe('bats: the node scripts with stand-ins for apt, systemctl, kubeadm, aws and curl', () => {
  it.each(batsFiles)(
    '%s',
    (file) => {
      const r = bats(file, unpacked(file.startsWith('worker') ? 'worker' : 'master'));
      expect(r.failed, r.stdout + r.stderr).toEqual([]);
      expect(r.passed.length).toBeGreaterThan(0);
      expect(r.status).toBe(0);
    },
    300_000,
  ); // many short processes: slow on a busy 2-core machine
});
