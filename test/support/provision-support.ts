/** Helpers for the provisioner's contract tests against moto (not a test file itself). */
import { readFileSync } from 'node:fs';
import { CreateRoleCommand, IAMClient } from '@aws-sdk/client-iam';
import { type AwsClients, createAwsClients } from '../../src/adapters/aws/clients.js';
import { parseSpec } from '../../src/cluster-spec/load.js';
import type { ClusterSpec } from '../../src/cluster-spec/schema.js';
import { DEFAULT_RECONCILER_ROLE } from '../../src/contract/names.js';

export const credentials = { accessKeyId: 'test', secretAccessKey: 'test' };

export function clients(endpoint: string, region: string): AwsClients {
  return createAwsClients({ region, endpoint, maxAttempts: 1, credentials });
}

/**
 * The role each cluster's reconciler function runs as (infra/tripod-cluster.yaml makes it in a real
 * account, `tripod-<cluster>-reconciler`); moto refuses a function whose role does not exist.
 */
export async function ensureReconcilerRole(endpoint: string, ...clusters: string[]): Promise<void> {
  for (const cluster of clusters) await ensureRole(endpoint, DEFAULT_RECONCILER_ROLE(cluster));
}

async function ensureRole(endpoint: string, RoleName: string): Promise<void> {
  const iam = new IAMClient({ region: 'us-east-1', endpoint, maxAttempts: 1, credentials });
  try {
    await iam.send(
      new CreateRoleCommand({
        RoleName,
        AssumeRolePolicyDocument: JSON.stringify({
          Version: '2012-10-17',
          Statement: [
            { Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' },
          ],
        }),
      }),
    );
  } catch (e) {
    if (!/EntityAlreadyExists/.test((e as Error).name)) throw e;
  } finally {
    iam.destroy();
  }
}

/**
 * An example spec with text replacements (cluster name, region, zones, ids) applied, parsed. A
 * replacement that finds nothing is refused: the example changed, and the test would run on its text.
 */
export function exampleSpec(file: string, replacements: Array<[string | RegExp, string]>): ClusterSpec {
  let text = readFileSync(file, 'utf8');
  for (const [from, to] of replacements) {
    const found =
      typeof from === 'string'
        ? text.includes(from)
        : new RegExp(from.source, from.flags.replace('g', '')).test(text);
    if (!found) throw new Error(`${file}: the replacement of ${String(from)} finds nothing`);
    text = text.replaceAll(from, to);
  }
  const r = parseSpec(text, file);
  if (!r.ok) throw new Error(r.problems.map((p) => `${p.path}: ${p.message}`).join('\n'));
  return r.spec;
}

/** examples/three-zones.yaml as cluster `name` in `region` (zones a, b, c there), on `cidr` if given. */
export function threeZoneSpec(name: string, region: string, cidr?: string): ClusterSpec {
  return exampleSpec('examples/three-zones.yaml', [
    ['name: demo-eu', `name: ${name}`],
    ['region: eu-west-1', `region: ${region}`],
    ...(cidr ? [['cidr: 10.40.0.0/16', `cidr: ${cidr}`] as [string, string]] : []),
    [/eu-west-1([abc])/g, `${region}$1`],
  ]);
}

/** A changed copy of a spec (specs are plain data). */
export function changed(spec: ClusterSpec, change: (s: ClusterSpec) => void): ClusterSpec {
  const copy = structuredClone(spec);
  change(copy);
  return copy;
}
