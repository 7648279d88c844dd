import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';

function run(args: string[]) {
  let out = '';
  let err = '';
  return main(args, { out: (t) => (out += `${t}\n`), err: (t) => (err += `${t}\n`) }).then((code) => ({
    code,
    out,
    err,
  }));
}

describe('tripod validate', () => {
  it('prints the topology of the 3-zone example', async () => {
    const r = await run(['validate', '-f', 'examples/three-zones.yaml']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/3 masters, quorum 2/);
    expect(r.out).toMatch(/Survives the loss of any one zone/);
  });

  it('--format json gives masters, quorum and zones', async () => {
    const r = await run(['validate', '-f', 'examples/four-zones.yaml', '--format', 'json']);
    const j = JSON.parse(r.out);
    expect(j.masters).toBe(5);
    expect(j.quorum).toBe(3);
    expect(j.zones).toHaveLength(4);
    expect(j.zones[0]).toEqual({ name: 'us-east-1a', masters: 2, survivesLoss: true });
  });

  it('--format mermaid draws zones, masters and load balancers', async () => {
    const r = await run(['validate', '-f', 'examples/three-zones.yaml', '--format', 'mermaid']);
    expect(r.out).toMatch(/^flowchart TB/);
    expect(r.out).toMatch(/subgraph eu_west_1a/);
    expect(r.out).toMatch(/api --> eu_west_1c_m1/);
  });

  it('exit 1 with every problem on an invalid spec, no stack trace', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tripod-'));
    const file = join(dir, 'cluster.yaml');
    writeFileSync(file, 'apiVersion: tripod/v2\nkind: Cluster\nnmae: x\n');
    const r = await run(['validate', '-f', file]);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`${file}:1:13 apiVersion: must be tripod/v1`);
    expect(r.err).toContain(`${file}:3:1 nmae: unknown field "nmae": did you mean "name"?`);
    expect(r.err).not.toMatch(/\n\s+at /);
  });

  it('exit 64 on usage errors, pointing at the help', async () => {
    const r = await run(['validate', '--format', 'xml', '-f', 'examples/three-zones.yaml']);
    expect(r.code).toBe(64);
    expect(r.err).toMatch(/--format must be one of text, json, markdown, mermaid/);
    expect(r.err).toContain('Run `tripod validate --help` for its options.');
    expect((await run(['frobnicate'])).code).toBe(64);
  });

  it('--help on the tool and on every command', async () => {
    expect((await run(['--help'])).out).toMatch(/validate/);
    const { commands } = await import('../../src/cli/commands.js');
    for (const c of commands) {
      const r = await run([c.name, '--help']);
      expect(r.code, c.name).toBe(0);
      expect(r.out, c.name).toMatch(/Usage: tripod /);
    }
  });

  it('the committed bundle runs as `tripod` (bin/tripod.js)', () => {
    const out = execFileSync(process.execPath, [
      'bin/tripod.js',
      'validate',
      '-f',
      'examples/three-zones.yaml',
      '--format',
      'json',
    ]);
    expect(JSON.parse(String(out)).quorum).toBe(2);
    const bad = spawnSync(process.execPath, ['bin/tripod.js', 'validate', '-f', 'nope.yaml']);
    expect(bad.status).toBe(1);
    expect(String(bad.stderr)).toContain('nope.yaml:1:1 (file): file not found');
  });
});
