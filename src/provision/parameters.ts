/**
 * SSM parameters under /tripod/<cluster>/: the cluster configuration the reconciler and the nodes read
 * (`config`, JSON of `reconcilerConfigFromSpec` with the real target group ARNs). A plan reads only the
 * parameters it manages (one GetParameter each); destroy lists the whole path and removes what carries
 * the cluster's tags.
 */
import {
  deleteParameter,
  getParameter,
  getParametersByPath,
  getParameterTags,
  putParameter,
  tagParameter,
} from '../adapters/aws/ssm.js';
import type { Tags } from '../adapters/aws/tags.js';
import { parameterRoot } from '../heal/protocol.js';
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
  /** Read only when needed (destroy, or before overwriting). */
  tags: Tags | undefined;
}

const keyOf = (cluster: string, name: string) => `param/${name.slice(parameterRoot(cluster).length + 1)}`;

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
  async find(ctx) {
    const mine = (p: ActualParameter, owned: boolean): Found<ActualParameter> => ({
      key: keyOf(ctx.cluster, p.name),
      kind: 'parameter',
      title: `parameter ${p.name}`,
      id: p.name,
      owned,
      attrs: { id: p.name },
      actual: p,
    });
    if (ctx.desired.length === 0) {
      // destroy: everything under the cluster's path that carries its tags.
      const all = await getParametersByPath(ctx.aws, `${parameterRoot(ctx.cluster)}/`);
      return Promise.all(
        all.map(async (p) => {
          const tags = await getParameterTags(ctx.aws, p.name);
          return mine({ name: p.name, value: p.value, tags }, isOwned(tags, ctx.cluster));
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
    await ensureOwned(ctx, f);
    await deleteParameter(ctx.aws, f.actual.name);
  },
};
