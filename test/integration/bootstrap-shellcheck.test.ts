import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type NodeRole, renderUserData } from '../../src/bootstrap/render.js';
import { parseSpec } from '../../src/cluster-spec/load.js';

const scriptsDir = 'src/bootstrap/scripts';
const scripts = readdirSync(scriptsDir).filter((f) => f.endsWith('.sh'));
const batsSupport = [
  'test/bootstrap/helpers.bash',
  'test/bootstrap/stubs/aws.bash',
  'test/bootstrap/stubs/curl.bash',
];

function shellcheck(files: string[], cwd?: string) {
  const r = spawnSync('shellcheck', ['-x', '-s', 'bash', '-f', 'gcc', ...files], { cwd, encoding: 'utf8' });
  if (r.error) throw new Error(`shellcheck is not installed (bash scripts/setup.sh): ${r.error.message}`);
  return r;
}

const tmp = mkdtempSync(join(tmpdir(), 'tripod-shellcheck-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('shellcheck', () => {
  it('finds problems (it is not a no-op)', () => {
    const bad = join(tmp, 'bad.sh');
    writeFileSync(bad, '#!/bin/bash\nrm -rf $1/*\n');
    const r = shellcheck([bad]);
    expect(r.status).not.toBe(0);
    expect(r.stdout).toContain('SC2086');
  });

  it.each(scripts)('%s is clean', (name) => {
    const r = shellcheck([name], scriptsDir);
    expect(r.stdout, r.stdout).toBe('');
    expect(r.status).toBe(0);
  });

  it.each(batsSupport)('%s (bats support) is clean', (file) => {
    const r = shellcheck([file]);
    expect(r.stdout, r.stdout).toBe('');
  });

  it.each(
    ['three-zones.yaml', 'four-zones.yaml'].flatMap((f) =>
      (['master', 'worker'] as NodeRole[]).map((role) => ({ f, role })),
    ),
  )('the rendered $role user data of $f is clean', ({ f, role }) => {
    const r = parseSpec(readFileSync(join('examples', f), 'utf8'), f);
    if (!r.ok) throw new Error(`${f} does not parse`);
    const file = join(tmp, `${f}-${role}.sh`);
    writeFileSync(file, renderUserData(r.spec, role));
    const out = shellcheck([file]);
    expect(out.stdout, out.stdout).toBe('');
    execFileSync('bash', ['-n', file]);
  });
});
