/**
 * SSM parameters under /tripod/<cluster>/: the cluster configuration the reconciler and the nodes read
 * (`config`, JSON of `reconcilerConfigFromSpec` with the real target group ARNs). A plan reads only the
 * parameters it manages (one GetParameter each).
 *
 * The path is the cluster's own: the nodes and the reconciler write their parameters there untagged
 * (the CAs, the Secrets encryption key, the reconciler's etcd client key, bootstrap and drain tokens,
 * join, drained and boot-failed records, the status document). Destroy deletes every parameter under
 * it, tagged or not, except one tagged for another cluster, and sweeps the path once more at the end
 * for what was written meanwhile: a new cluster of the same name never finds an old CA. A plan for a
 * cluster whose configuration is missing refuses while anything is left under the path.
 */

import type { AwsClients } from '../adapters/aws/clients.js';
import {
  deleteParameter,
  getParameter,
  getParametersByPath,
  getParameterTags,
  putParameter,
  tagParameter,
} from '../adapters/aws/ssm.js';
import type { Tags } from '../adapters/aws/tags.js';
import { CLUSTER_TAG, parameterRoot } from '../contract/protocol.js';
import { backupBucketKind } from './backup-bucket.js';
import { loadBalancerKind, targetGroupKind } from './load-balancer.js';
import {
  type FieldChange,
  type Found,
  isOwned,
  missingTags,
  type Refs,
  type ResourceKind,
} from './resource.js';

export interface DesiredParameter {
  name: string;
  /** The value, from references (target group ARNs are only known once they exist). */
  render(refs: Refs): string;
  tags: Tags;
}

export interface ActualParameter {
  name: string;
  value: string;
  /** String or SecureString (destroy lists without decrypting: a SecureString's value is ciphertext). */
  type?: string;
  /** Read only when needed (destroy, or before overwriting). */
  tags: Tags | undefined;
}

const keyOf = (cluster: string, name: string) => `param/${name.slice(parameterRoot(cluster).length + 1)}`;

/** Under the cluster's path, a parameter is the cluster's unless it is tagged for another cluster. */
const belongs = (tags: Tags, cluster: string) => tags[CLUSTER_TAG] === undefined || isOwned(tags, cluster);

const describeParameter = (p: { name: string; type?: string | undefined }) =>
  `${p.type === 'SecureString' ? 'secret parameter' : 'parameter'} ${p.name}`;

/** Field-level changes of two JSON documents (top-level keys), or the whole value when not JSON. */
function jsonChanges(before: string, after: string): FieldChange[] {
  try {
    const a = JSON.parse(before) as Record<string, unknown>;
    const b = JSON.parse(after) as Record<string, unknown>;
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])];
    return keys
      .filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k]))
      .map((k) => ({ field: `value.${k}`, before: a[k], after: b[k] }));
  } catch {
    return before === after ? [] : [{ field: 'value', before, after }];
  }
}

async function ensureOwned(ctx: Parameters<ResourceKind['delete']>[0], f: Found<ActualParameter>) {
  const tags = f.actual.tags ?? (await getParameterTags(ctx.aws, f.actual.name));
  if (!isOwned(tags, ctx.cluster)) {
    throw new Error(
      `parameter ${f.actual.name} does not carry the tags of cluster ${ctx.cluster}: tripod leaves it alone`,
    );
  }
  return tags;
}

export const parameterKind: ResourceKind<DesiredParameter, ActualParameter> = {
  kind: 'parameter',
  group: 'configuration',
  // The configuration names the API target group, load balancer and backup bucket for the reconciler.
  dependsOn: [backupBucketKind, loadBalancerKind, targetGroupKind],
  async find(ctx) {
    const mine = (p: ActualParameter, owned: boolean): Found<ActualParameter> => ({
      key: keyOf(ctx.cluster, p.name),
      kind: 'parameter',
      title: describeParameter(p),
      id: p.name,
      owned,
      attrs: { id: p.name },
      actual: p,
    });
    if (ctx.desired.length === 0) {
      // destroy: everything under the cluster's path (the nodes' secrets are untagged), not decrypted
      const all = await getParametersByPath(ctx.aws, `${parameterRoot(ctx.cluster)}/`, { decrypt: false });
      return Promise.all(
        all.map(async (p) => {
          const tags = await getParameterTags(ctx.aws, p.name);
          return mine({ name: p.name, value: p.value, type: p.type, tags }, belongs(tags, ctx.cluster));
        }),
      );
    }
    const wanted = ctx.desired
      .filter((d) => d.kind === 'parameter')
      .map((d) => (d.value as DesiredParameter).name);
    const found = await Promise.all(wanted.map((n) => getParameter(ctx.aws, n)));
    // The path is tripod's own namespace; tags are checked before anything is overwritten.
    return found
      .filter((p) => p !== undefined)
      .map((p) => mine({ name: p.name, value: p.value, tags: undefined }, true));
  },
  compare(d, f, refs) {
    return { changes: jsonChanges(f.actual.value, d.render(refs)) };
  },
  async create(ctx, d) {
    const value = d.value.render(ctx.refs);
    await putParameter(ctx.aws, { name: d.value.name, value, tags: d.value.tags, overwrite: false });
    return {
      key: d.key,
      kind: 'parameter',
      title: d.title,
      id: d.value.name,
      owned: true,
      attrs: { id: d.value.name },
      actual: { name: d.value.name, value, tags: d.value.tags },
    };
  },
  async update(ctx, d, f) {
    const tags = await ensureOwned(ctx, f);
    await putParameter(ctx.aws, {
      name: d.value.name,
      value: d.value.render(ctx.refs),
      tags: {},
      overwrite: true,
    });
    const missing = missingTags(d.value.tags, tags);
    if (Object.keys(missing).length) await tagParameter(ctx.aws, d.value.name, missing);
    return undefined;
  },
  async delete(ctx, f) {
    const tags = f.actual.tags ?? (await getParameterTags(ctx.aws, f.actual.name));
    if (!belongs(tags, ctx.cluster))
      throw new Error(
        `parameter ${f.actual.name} carries the tags of another cluster: tripod leaves it alone`,
      );
    await deleteParameter(ctx.aws, f.actual.name);
  },
};

/**
 * Destroy's last step: deletes what was written under the cluster's path while destroy ran (a
 * terminating node's drained record, a last status document). Returns what it deleted.
 */
export async function sweepParameters(aws: AwsClients, cluster: string): Promise<string[]> {
  const left = await getParametersByPath(aws, `${parameterRoot(cluster)}/`, { decrypt: false });
  const deleted: string[] = [];
  for (const p of left) {
    if (!belongs(await getParameterTags(aws, p.name), cluster)) continue;
    await deleteParameter(aws, p.name);
    deleted.push(describeParameter(p));
  }
  return deleted;
}

/**
 * Parameters left under the cluster's path by an earlier cluster of the same name (its configuration
 * is gone, so this cluster is new): a new seed would adopt the old CAs and encryption key. Listed
 * without decrypting; empty when the path is clean.
 */
export async function leftoverParameters(aws: AwsClients, cluster: string): Promise<string[]> {
  const left = await getParametersByPath(aws, `${parameterRoot(cluster)}/`, { decrypt: false });
  return left.map((p) => describeParameter(p));
}
