/**
 * Launch templates for masters and workers: image, instance type, instance profile, security groups,
 * root volume and user data. A change makes a new version and makes it the default; the groups use
 * `$Default`, so new instances get it (existing ones are replaced by an upgrade, not by apply).
 */
import { createHash } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import {
  createLaunchTemplate,
  createLaunchTemplateVersion,
  deleteLaunchTemplate,
  findLaunchTemplates,
  getLaunchTemplateVersion,
  type LaunchTemplate,
  type LaunchTemplateData,
  tagFilter,
  tagResources,
} from '../adapters/aws/ec2.js';
import type { Tags } from '../adapters/aws/tags.js';
import { encodeUserData } from '../bootstrap/render.js';
import { CLUSTER_TAG } from '../contract/protocol.js';
import {
  type Context,
  diff,
  isOwned,
  missingTags,
  type Refs,
  type ResourceKind,
  tagChanges,
} from './resource.js';
import { securityGroupKind } from './security-groups.js';

export interface DesiredLaunchTemplate {
  name: string;
  image: string;
  instanceType: string;
  instanceProfile: string;
  /** Keys of security groups. */
  securityGroups: string[];
  /** Plain user data (gzip-compressed and base64-encoded here, see encodeUserData). */
  userData: string;
  volumeSize: number;
  instanceTags: Tags;
  tags: Tags;
}

/**
 * IMDS answers a PUT for a token only this many network hops away: 1 = the node itself. A pod's
 * request crosses the node's bridge (one more hop), so pods cannot take the node's role credentials.
 */
export const NODE_METADATA_HOP_LIMIT = 1;

export interface ActualLaunchTemplate {
  template: LaunchTemplate;
  data: LaunchTemplateData | undefined;
}

const hash = (s: string) => createHash('sha256').update(s).digest('hex').slice(0, 16);
const b64 = (s: string) => encodeUserData(s).toString('base64');
/** The script in user data as EC2 stores it (base64; gzip-compressed or, from older tripods, not). */
const plainUserData = (stored: string): string => {
  const bytes = Buffer.from(stored, 'base64');
  return bytes[0] === 0x1f && bytes[1] === 0x8b ? gunzipSync(bytes).toString('utf8') : bytes.toString('utf8');
};

function dataOf(d: DesiredLaunchTemplate, refs: Refs): LaunchTemplateData {
  return {
    image: d.image,
    instanceType: d.instanceType,
    instanceProfile: d.instanceProfile,
    securityGroupIds: d.securityGroups.map((k) => refs.get(k)).sort(),
    userData: b64(d.userData),
    volumeSize: d.volumeSize,
    instanceTags: d.instanceTags,
    metadataHopLimit: NODE_METADATA_HOP_LIMIT,
  };
}

export const launchTemplateKind: ResourceKind<DesiredLaunchTemplate, ActualLaunchTemplate> = {
  kind: 'launch-template',
  group: 'launch templates',
  dependsOn: [securityGroupKind],
  async find(ctx: Context) {
    const templates = await findLaunchTemplates(ctx.aws, [tagFilter(CLUSTER_TAG, ctx.cluster)]);
    return Promise.all(
      templates.map(async (t) => ({
        key: `lt/${t.name.slice(ctx.cluster.length + 1)}`,
        kind: 'launch-template',
        title: `launch template ${t.name}`,
        id: t.id,
        owned: isOwned(t.tags, ctx.cluster),
        attrs: { id: t.id, version: String(t.defaultVersion) },
        actual: { template: t, data: await getLaunchTemplateVersion(ctx.aws, t.id, t.defaultVersion) },
      })),
    );
  },
  compare(d, f, refs) {
    const want = dataOf(d, refs);
    const have = f.actual.data;
    // Compared as the plain script: gzip's bytes may differ between zlib builds (the CLI's Node and
    // the Action's), the script they carry does not.
    const userData = (s: string | undefined) => (s ? `sha256:${hash(plainUserData(s))}` : undefined);
    return {
      changes: [
        ...diff('image', have?.image, want.image),
        ...diff('instanceType', have?.instanceType, want.instanceType),
        ...diff('instanceProfile', have?.instanceProfile, want.instanceProfile),
        ...diff('securityGroups', have?.securityGroupIds ?? [], want.securityGroupIds),
        ...diff('volumeSize', have?.volumeSize, want.volumeSize),
        ...diff('metadataHopLimit', have?.metadataHopLimit, want.metadataHopLimit),
        ...diff('userData', userData(have?.userData), userData(want.userData)),
        ...Object.entries(want.instanceTags)
          .filter(([k, v]) => have?.instanceTags[k] !== v)
          .map(([k, v]) => ({ field: `instanceTags.${k}`, before: have?.instanceTags[k], after: v })),
        ...tagChanges(d.tags, f.actual.template.tags),
      ],
      ...(f.actual.template.name !== d.name ? { replace: 'a launch template cannot be renamed' } : {}),
    };
  },
  async create(ctx, d) {
    const data = dataOf(d.value, ctx.refs);
    const t = await createLaunchTemplate(ctx.aws, d.value.name, data, d.value.tags);
    return {
      key: d.key,
      kind: 'launch-template',
      title: d.title,
      id: t.id,
      owned: true,
      attrs: { id: t.id, version: '1' },
      actual: { template: t, data },
    };
  },
  async update(ctx, d, f) {
    const want = dataOf(d.value, ctx.refs);
    const { tags, ...rest } = d.value;
    const changed = this.compare({ ...rest, tags: {} }, f, ctx.refs).changes.length > 0;
    let version = f.actual.template.defaultVersion;
    if (changed) version = await createLaunchTemplateVersion(ctx.aws, f.id, want);
    await tagResources(ctx.aws, [f.id], missingTags(tags, f.actual.template.tags));
    return {
      ...f,
      attrs: { id: f.id, version: String(version) },
      actual: { template: f.actual.template, data: want },
    };
  },
  async delete(ctx, f) {
    await deleteLaunchTemplate(ctx.aws, f.id);
  },
};
