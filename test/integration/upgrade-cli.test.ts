/** `tripod upgrade`: help, usage errors, a missing cluster against moto, and the simulator mode. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { minimalSpec } from '../support/spec-text.js';

async function run(args: string[]) {
  let out = '';
  let err = '';
  const code = await main(args, { out: (t) => (out += `${t}\n`), err: (t) => (err += `${t}\n`) });
  return { code, out, err };
}

describe('tripod upgrade', () => {
  it('--help shows the usage', async () => {
    const r = await run(['upgrade', '--help']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^Usage: tripod upgrade \[options\] \[spec\] \[--abort\] \[--timeout-minutes N\]/);
    expect(r.out).toMatch(/--region <region>/);
  });

  it('usage errors exit 64 with the reason', async () => {
    let r = await run(['upgrade', '--simulate', '--faults', 'meteor']);
    expect(r.code).toBe(64);
    expect(r.err).toMatch(/--faults: unknown fault "meteor" \(known: zone-outage/);
    r = await run(['upgrade', '--timeout-minutes', '0']);
    expect(r.code).toBe(64);
    expect(r.err).toMatch(/--timeout-minutes must be a whole number from 1/);
  });

  it('a bad spec exits 1 naming file, line and field', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tripod-upgrade-cli-'));
    const file = join(dir, 'cluster.yaml');
    writeFileSync(file, 'apiVersion: tripod/v1\nkind: Cluster\nname: x\n');
    const r = await run(['upgrade', '-f', file]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/cluster\.yaml:\d+:\d+ /);
    expect(r.err).not.toMatch(/\n\s+at /); // no stack
  });

  it('a cluster that does not exist (moto): exit 1, run apply first', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tripod-upgrade-cli-'));
    const file = join(dir, 'cluster.yaml');
    writeFileSync(file, minimalSpec({ name: 'upg-cli-none', region: 'ca-west-1' }));
    const saved = process.env.AWS_ENDPOINT_URL;
    process.env.AWS_ENDPOINT_URL = inject('motoEndpoint');
    try {
      const r = await run(['upgrade', '-f', file, '--timeout-minutes', '1']);
      expect(r.code).toBe(1);
      expect(r.err).toMatch(/there is no Auto Scaling group upg-cli-none-masters\. Run apply first\./);
    } finally {
      if (saved === undefined) delete process.env.AWS_ENDPOINT_URL;
      else process.env.AWS_ENDPOINT_URL = saved;
    }
  });

  it('--simulate upgrades 5 masters and prints the old -> new table', async () => {
    const r = await run(['upgrade', '--simulate', '--seed', '4', '--masters', '5', '--workers', '3']);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/completed: every master and worker runs the new launch template/);
    expect(r.out.match(/^\| masters \| i-\S+ \(\S+, v1\) \| i-\S+ \(\S+, v2\) \|$/gm)).toHaveLength(5);
    expect(r.out.match(/^\| workers \|/gm)).toHaveLength(3);
  });

  it('--simulate --seeds runs many seeds with their own faults', async () => {
    const r = await run(['upgrade', '--simulate', '--seeds', '8', '--seed', '500']);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/^8 seeds from 500: 8 passed, 0 failed/m);
  });
});
