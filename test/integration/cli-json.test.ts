/**
 * `--format json` against moto (issue 17): stdout holds exactly one JSON document with formatVersion,
 * for plan, apply, destroy and status; progress goes to stderr (destroy used to print its progress
 * after the JSON, on stdout).
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { FORMAT_VERSION } from '../../src/cli/command.js';
import { main } from '../../src/cli/main.js';
import { ensureReconcilerRole } from '../support/provision-support.js';

const endpoint = inject('motoEndpoint');
const REGION = 'sa-east-1';
const NAME = 'pt-json';
let file: string;

async function tripod(...args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main([...args, file, '--endpoint-url', endpoint], {
    out: (t) => out.push(t),
    err: (t) => err.push(t),
  });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

/** stdout parsed as ONE JSON document (JSON.parse refuses anything before or after it). */
function onlyJson(stdout: string): Record<string, unknown> {
  const doc = JSON.parse(stdout) as Record<string, unknown>;
  expect(Object.keys(doc)[0]).toBe('formatVersion');
  expect(doc.formatVersion).toBe(FORMAT_VERSION);
  return doc;
}

beforeAll(async () => {
  await ensureReconcilerRole(endpoint, NAME);
  const dir = mkdtempSync(join(tmpdir(), 'tripod-cli-json-'));
  file = join(dir, 'cluster.yaml');
  writeFileSync(
    file,
    readFileSync('examples/three-zones.yaml', 'utf8')
      .replace('name: demo-eu', `name: ${NAME}`)
      .replace('region: eu-west-1', `region: ${REGION}`)
      .replace('cidr: 10.40.0.0/16', 'cidr: 10.43.0.0/16')
      .replaceAll(/eu-west-1([abc])/g, `${REGION}$1`),
  );
});

describe('--format json: one document on stdout', () => {
  it('plan, apply, status, then destroy (progress on stderr, the document last and alone)', async () => {
    const plan = await tripod('plan', '--format', 'json');
    expect(plan.code).toBe(0);
    const p = onlyJson(plan.out);
    expect(p).toMatchObject({ cluster: NAME, region: REGION, mode: 'apply', hasChanges: true });

    const apply = await tripod('apply', '--format', 'json');
    expect(apply.code, apply.err).toBe(0);
    const a = onlyJson(apply.out);
    expect(a.applied).toBeGreaterThan(30);
    expect(apply.err).toMatch(/^\[\w+\] /m);

    const status = await tripod('status', '--format', 'json');
    expect(status.code).toBe(1); // no reconciler status document in moto: degraded
    const s = onlyJson(status.out);
    expect(s.state).toBe('degraded');

    const destroy = await tripod('destroy', '--format', 'json', '--yes');
    expect(destroy.code, destroy.err).toBe(0);
    const d = onlyJson(destroy.out);
    expect(d.destroyed).toBeGreaterThan(30);
    expect((d.plan as { mode: string }).mode).toBe('destroy');
    expect(destroy.err).toMatch(/^\[\w+\] /m); // the progress, on stderr

    const nothing = await tripod('destroy', '--format', 'json', '--yes');
    expect(onlyJson(nothing.out)).toMatchObject({ destroyed: 0 });
  }, 240_000);
});
