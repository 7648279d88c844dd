/**
 * `tripod plan --out plan.json` and `tripod apply --plan plan.json` against moto (issue 16, apply what
 * was reviewed): another spec or other changes are refused before anything is created, with the
 * difference; the same plan applies; a second apply of it has nothing left to apply.
 */
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { parseSavedPlan } from '../../src/provision/saved-plan.js';
import { ensureReconcilerRole } from '../support/provision-support.js';

const endpoint = inject('motoEndpoint');
const REGION = 'eu-south-2';
const NAME = 'pt-saved';
let dir: string;
let file: string;
let text: string;

async function tripod(...args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main([...args, '-f', file, '--endpoint-url', endpoint], {
    out: (t) => out.push(t),
    err: (t) => err.push(t),
  });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

beforeAll(async () => {
  await ensureReconcilerRole(endpoint, NAME);
  dir = mkdtempSync(join(tmpdir(), 'tripod-saved-cli-'));
  file = join(dir, 'cluster.yaml');
  text = readFileSync('examples/three-zones.yaml', 'utf8')
    .replace('name: demo-eu', `name: ${NAME}`)
    .replace('region: eu-west-1', `region: ${REGION}`)
    .replace('cidr: 10.40.0.0/16', 'cidr: 10.43.0.0/16')
    .replaceAll(/eu-west-1([abc])/g, `${REGION}$1`);
  writeFileSync(file, text);
});

describe('tripod plan --out / apply --plan', () => {
  it('--allow-plan-drift without --plan is a usage error; a missing or wrong file is refused by name', async () => {
    expect((await tripod('apply', '--allow-plan-drift')).code).toBe(64);
    const missing = await tripod('apply', '--plan', join(dir, 'nope.json'));
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/--plan: cannot read .*nope.json \(ENOENT\): make it with tripod plan --out/);
    const wrong = join(dir, 'wrong.json');
    writeFileSync(wrong, '{"format":"tripod-plan/1"}');
    const bad = await tripod('apply', '--plan', wrong);
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/wrong.json: not a saved tripod plan \(tripod-plan\/1\) at cluster/);
  });

  it('refuses a plan made from another spec, showing the difference, and creates nothing', async () => {
    const reviewed = join(dir, 'reviewed.json');
    const p = await tripod('plan', '--out', reviewed);
    expect(p.code).toBe(0);
    const saved = parseSavedPlan(readFileSync(reviewed, 'utf8'), reviewed);
    expect(saved.cluster).toBe(NAME);
    expect(saved.plan.summary.create).toBeGreaterThan(30);

    writeFileSync(file, text.replace('max: 9', 'max: 12'));
    const r = await tripod('apply', '--plan', reviewed).finally(() => writeFileSync(file, text));
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/apply refused: the plan differs from the approved one/);
    expect(r.err).toMatch(/the spec is not the reviewed one/);
    expect(r.err).toMatch(
      /Difference:\nthe spec is not the reviewed one: sha256:[0-9a-f]{12}\.\.\. reviewed, sha256:[0-9a-f]{12}\.\.\. now/,
    );
    expect(r.out).not.toContain('Applied');
    // nothing was created: the same plan is still all creates
    const again = await tripod('plan', '--format', 'json');
    expect(JSON.parse(again.out).summary.create).toBe(saved.plan.summary.create);
  });

  it('applies the reviewed plan; applying it again has nothing left to apply', async () => {
    const reviewed = join(dir, 'reviewed.json');
    expect(existsSync(reviewed)).toBe(true);
    const r = await tripod('apply', '--plan', reviewed);
    expect(r.err, r.out).toMatch(/the plan is the approved one/);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/Applied \d+ change\(s\)/);
    const second = await tripod('apply', '--plan', reviewed);
    expect(second.code).toBe(0);
    expect(second.err).toMatch(/nothing left to apply/);
  }, 300_000);
});
