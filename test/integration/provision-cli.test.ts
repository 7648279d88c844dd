/**
 * `tripod plan | apply | destroy` against moto, as a user runs them: exit codes, output, an apply
 * killed half-way and finished by the next one, destroy confirmation, missing credentials.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { ensureReconcilerRole } from '../support/provision-support.js';

const endpoint = inject('motoEndpoint');
const REGION = 'eu-central-2';
let dir: string;
let file: string;

function io() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (t: string) => out.push(t), err: (t: string) => err.push(t) }, out, err };
}

async function tripod(...args: string[]) {
  const c = io();
  const code = await main([...args, '-f', file, '--endpoint-url', endpoint], c.io);
  return { code, out: c.out.join('\n'), err: c.err.join('\n') };
}

beforeAll(async () => {
  await ensureReconcilerRole(endpoint, 'pt-cli');
  dir = mkdtempSync(join(tmpdir(), 'tripod-cli-'));
  file = join(dir, 'cluster.yaml');
  const text = readFileSync('examples/three-zones.yaml', 'utf8')
    .replace('name: demo-eu', 'name: pt-cli')
    .replace('region: eu-west-1', `region: ${REGION}`)
    .replace('cidr: 10.40.0.0/16', 'cidr: 10.41.0.0/16')
    .replaceAll(/eu-west-1([abc])/g, `${REGION}$1`);
  writeFileSync(file, text);
});

describe('tripod plan / apply / destroy', () => {
  it('every command has --help with a usage line', async () => {
    for (const cmd of ['plan', 'apply', 'destroy']) {
      const c = io();
      expect(await main([cmd, '--help'], c.io)).toBe(0);
      expect(c.out.join('\n')).toMatch(new RegExp(`^Usage: tripod ${cmd} `));
    }
  });

  it('plan --detailed-exitcode exits 2 when there are changes; --format json is the plan value', async () => {
    const r = await tripod('plan', '--detailed-exitcode');
    expect(r.code).toBe(2);
    expect(r.out).toMatch(/^Plan for cluster pt-cli \(eu-central-2\): \d+ to create/);
    const j = await tripod('plan', '--format', 'json');
    expect(j.code).toBe(0);
    const plan = JSON.parse(j.out);
    expect(plan.formatVersion).toBe(1);
    expect(plan.cluster).toBe('pt-cli');
    expect(plan.summary.create).toBeGreaterThan(30);
  });

  it('a killed apply is finished by the next apply; then plan says no changes and exits 0', async () => {
    // A real kill (SIGKILL) of the CLI process once it is part-way through the network.
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', resolve('src/cli/index.ts'), 'apply', '-f', file, '--endpoint-url', endpoint],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_NO_WARNINGS: '1' } },
    );
    let seen = '';
    const killed = await new Promise<boolean>((res) => {
      child.stdout.on('data', (d) => {
        seen += d;
        if (seen.includes('created internet gateway') && child.exitCode === null) {
          child.kill('SIGKILL');
        }
      });
      child.on('exit', (_code, signal) => res(signal === 'SIGKILL'));
    });
    expect(killed).toBe(true);
    expect(seen).not.toContain('Applied');

    const half = await tripod('plan', '--format', 'json');
    const plan = JSON.parse(half.out);
    expect(plan.summary.create).toBeGreaterThan(0);
    expect(plan.changes.map((c: { key: string }) => c.key)).not.toContain('vpc'); // made before the kill

    const r = await tripod('apply');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/Applied \d+ change\(s\)/);
    const again = await tripod('plan', '--detailed-exitcode');
    expect(again.code).toBe(0);
    // the example's API is internet-facing with no allowedCidrs: every plan says so, changes or not
    expect(again.out).toMatch(
      /^No changes: cluster pt-cli in eu-central-2 matches the spec\.\n\nWarnings:\n {2}- The Kubernetes API is OPEN TO THE WHOLE INTERNET/,
    );
  });

  it('apply refuses a destructive change without --allow-destructive (exit 1, nothing changed)', async () => {
    const shrunk = join(dir, 'shrunk.yaml');
    writeFileSync(shrunk, `${readFileSync(file, 'utf8').replace('masters:\n', 'masters:\n  count: 1\n')}`);
    const c = io();
    const code = await main(['apply', '-f', shrunk, '--endpoint-url', endpoint], c.io);
    expect(code).toBe(1);
    expect(c.err.join('\n')).toMatch(/refusing destructive change\(s\).*\n.*shrinks the masters from 3 to 1/);
    expect((await tripod('plan', '--detailed-exitcode')).code).toBe(0);
  });

  it('--region must agree with the spec', async () => {
    const r = await tripod('plan', '--region', 'us-east-1');
    expect(r.code).toBe(64);
    expect(r.err).toMatch(/--region us-east-1 disagrees/);
  });

  it('destroy asks for the name: refused without it, with the wrong one, done with --confirm', async () => {
    const none = await tripod('destroy');
    expect(none.code).toBe(64);
    expect(none.err).toMatch(/pass --confirm pt-cli/);
    const wrong = await tripod('destroy', '--confirm', 'pt-other');
    expect(wrong.code).toBe(1);
    expect(wrong.err).toMatch(/does not match the cluster name pt-cli: nothing was deleted/);
    expect((await tripod('plan', '--detailed-exitcode')).code).toBe(0);

    const done = await tripod('destroy', '--confirm', 'pt-cli');
    expect(done.code).toBe(0);
    expect(done.out).toMatch(/Destroyed cluster pt-cli: \d+ resource\(s\) deleted/);
    const gone = await tripod('destroy', '--yes');
    expect(gone.code).toBe(0);
    expect(gone.out).toMatch(/^No changes: cluster pt-cli has nothing left/);
  });
});

describe('missing credentials', () => {
  const saved = { ...process.env };
  afterAll(() => {
    process.env = saved;
  });
  it('says how to provide them, without a stack trace (exit 1)', async () => {
    for (const k of Object.keys(process.env)) if (k.startsWith('AWS_')) delete process.env[k];
    process.env.AWS_EC2_METADATA_DISABLED = 'true'; // no instance metadata probe
    process.env.AWS_CONFIG_FILE = join(dir, 'none');
    process.env.AWS_SHARED_CREDENTIALS_FILE = join(dir, 'none');
    process.env.TRIPOD_AWS_MAX_ATTEMPTS = '1';
    const c = io();
    const code = await main(['plan', '-f', file], c.io);
    expect(code).toBe(1);
    expect(c.err.join('\n')).toMatch(/no valid AWS credentials .*set AWS_PROFILE or AWS_ACCESS_KEY_ID/);
    expect(c.err.join('\n')).not.toMatch(/\n\s+at /);
  });
});
