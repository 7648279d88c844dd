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

/** An example spec with text replacements (cluster name, region, zones, ids) applied, parsed. */
export function exampleSpec(file: string, replacements: Array<[string | RegExp, string]>): ClusterSpec {
  let text = readFileSync(file, 'utf8');
  for (const [from, to] of replacements) text = text.replaceAll(from, to);
  const r = parseSpec(text, file);
  if (!r.ok) throw new Error(r.problems.map((p) => `${p.path}: ${p.message}`).join('\n'));
  return r.spec;
}

/** A changed copy of a spec (specs are plain data). */
export function changed(spec: ClusterSpec, change: (s: ClusterSpec) => void): ClusterSpec {
  const copy = structuredClone(spec);
  change(copy);
  return copy;
}
