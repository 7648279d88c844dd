/**
 * The shape every resource kind has (like kops' `fi` tasks): find the cluster's existing resources of
 * the kind, compare one with its desired value field by field (only the fields tripod owns), and
 * create / update / delete. The plan and apply engines work on nothing but this interface.
 */
import type { AwsClients } from '../adapters/aws/clients.js';
import type { Tags } from '../adapters/aws/tags.js';
import type { ClusterSpec } from '../cluster-spec/schema.js';
import { CLUSTER_TAG, MANAGED_BY_TAG, MANAGED_BY_VALUE } from '../contract/protocol.js';

/** Shown where a value only exists once apply has created something. */
export const UNKNOWN = '(known after apply)';

export interface FieldChange {
  field: string;
  before: unknown;
  after: unknown;
}

/** A desired resource: a stable key (`subnet/private/eu-west-1a`), a title for people, and the kind's value. */
export interface Desired<D = unknown> {
  key: string;
  kind: string;
  title: string;
  value: D;
}

/** An existing resource of the cluster. `attrs` feed references (`id`, `arn`, `dnsName`, ...). */
export interface Found<A = unknown> {
  key: string;
  kind: string;
  title: string;
  /** The physical id shown in plans (vpc-..., an ARN, a name). */
  id: string;
  /** Carries `tripod:cluster=<name>` and `tripod:managed-by=tripod`: tripod touches nothing else. */
  owned: boolean;
  attrs: Record<string, string>;
  actual: A;
}

export interface Comparison {
  changes: FieldChange[];
  /** Set when a changed field cannot be updated in place: the resource is deleted and created again. */
  replace?: string;
  /** Set when applying this change could hurt the cluster (quorum, data): refused without allowDestructive. */
  destructive?: string;
}

/** Physical ids/ARNs of resources by key, filled from what was found and, during apply, what was created. */
export class Refs {
  private readonly map = new Map<string, Record<string, string>>();

  set(key: string, attrs: Record<string, string>): void {
    this.map.set(key, attrs);
  }

  forget(key: string): void {
    this.map.delete(key);
  }

  has(key: string): boolean {
    return this.map.has(key);
  }

  /** The attribute, or UNKNOWN when the resource does not exist yet. */
  get(key: string, attr = 'id'): string {
    return this.map.get(key)?.[attr] ?? UNKNOWN;
  }

  /** Like get, but throws: for apply, where every dependency must exist by now. */
  need(key: string, attr = 'id'): string {
    const v = this.map.get(key)?.[attr];
    if (v === undefined)
      throw new Error(`internal: ${key}.${attr} is not known (its resource was not created)`);
    return v;
  }

  keys(): string[] {
    return [...this.map.keys()];
  }
}

export interface Timeouts {
  natGatewayMs: number;
  loadBalancerMs: number;
  groupDeleteMs: number;
  dependencyMs: number;
}

export const DEFAULT_TIMEOUTS: Timeouts = {
  natGatewayMs: 10 * 60_000,
  loadBalancerMs: 10 * 60_000,
  groupDeleteMs: 15 * 60_000,
  // Lambda's VPC network interfaces can take this long to go after the function is deleted.
  dependencyMs: 30 * 60_000,
};

/** What the reconciler function is built from, when tripod deploys it (the Lambda work supplies it). */
export interface ReconcilerBundle {
  zip: Uint8Array;
  handler: string;
  runtime: string;
}

export interface Context {
  aws: AwsClients;
  cluster: string;
  /** The spec being planned; for destroy, the spec naming the cluster. */
  spec: ClusterSpec;
  refs: Refs;
  /** All desired resources (empty for destroy). */
  desired: ReadonlyArray<Desired>;
  timeouts: Timeouts;
  /**
   * Epoch ms past which nothing waits on dependencies any more (the caller's own timeout, e.g. the
   * Action's timeout-minutes): a destroy stops with "run it again" rather than be killed mid-wait.
   */
  deadline?: number;
  /** Shares one read between kinds (e.g. security groups and their rules come from one call). */
  once<T>(key: string, load: () => Promise<T>): Promise<T>;
  progress(message: string): void;
}

export interface ResourceKind<D = unknown, A = unknown> {
  kind: string;
  /** Heading for progress output (network, masters, ...). */
  group: string;
  /**
   * The kinds this kind's resources reference (their ids and ARNs through `Refs`), or that must exist
   * before one of them is made: apply creates those first and deletes them after. The apply order
   * is derived from these (`orderKinds`), never kept by hand.
   */
  dependsOn: ReadonlyArray<ResourceKind>;
  find(ctx: Context): Promise<Array<Found<A>>>;
  compare(desired: D, found: Found<A>, refs: Refs): Comparison;
  create(ctx: Context, desired: Desired<D>): Promise<Found<A>>;
  /** Brings the resource to its desired value (recomputes what differs). */
  update(ctx: Context, desired: Desired<D>, found: Found<A>): Promise<Found<A> | undefined>;
  delete(ctx: Context, found: Found<A>): Promise<void>;
}

/** A desired resource, made through its kind: the value is checked against the kind's own type. */
export const desire = <D>(kind: ResourceKind<D>, key: string, title: string, value: D): Desired<D> => ({
  key,
  kind: kind.kind,
  title,
  value,
});

/**
 * The kinds in an order where every kind comes after the kinds it depends on (a topological sort,
 * Kahn's), ties kept in the given order. Throws on a dependency outside `kinds` or a cycle.
 */
export function orderKinds<K extends ResourceKind>(kinds: readonly K[]): K[] {
  const known = new Set<ResourceKind>(kinds);
  for (const k of kinds)
    for (const d of k.dependsOn)
      if (!known.has(d))
        throw new Error(`internal: resource kind ${k.kind} depends on ${d.kind}, which is not listed`);
  const ordered: K[] = [];
  const placed = new Set<ResourceKind>();
  while (ordered.length < kinds.length) {
    const next = kinds.find((k) => !placed.has(k) && k.dependsOn.every((d) => placed.has(d)));
    if (!next) {
      const left = kinds.filter((k) => !placed.has(k)).map((k) => k.kind);
      throw new Error(`internal: resource kinds depend on each other in a circle: ${left.join(', ')}`);
    }
    ordered.push(next);
    placed.add(next);
  }
  return ordered;
}

/** The tags everything tripod creates carries: the cluster's, tripod's, and the spec's own. */
export function ownerTags(spec: ClusterSpec): Tags {
  return { ...spec.tags, [CLUSTER_TAG]: spec.name, [MANAGED_BY_TAG]: MANAGED_BY_VALUE };
}

export function isOwned(tags: Tags, cluster: string): boolean {
  return tags[CLUSTER_TAG] === cluster && tags[MANAGED_BY_TAG] === MANAGED_BY_VALUE;
}

/** Desired tags missing or different on the resource (extra tags someone else added are left alone). */
export function tagChanges(desired: Tags, actual: Tags): FieldChange[] {
  return Object.entries(desired)
    .filter(([k, v]) => actual[k] !== v)
    .map(([k, v]) => ({ field: `tags.${k}`, before: actual[k], after: v }));
}

/** A field change when the values differ (arrays compared sorted, as sets). */
export function diff(field: string, before: unknown, after: unknown): FieldChange[] {
  const norm = (v: unknown) =>
    Array.isArray(v) ? JSON.stringify([...v].map(String).sort()) : JSON.stringify(v);
  return norm(before) === norm(after) ? [] : [{ field, before, after }];
}

export function missingTags(desired: Tags, actual: Tags): Tags {
  return Object.fromEntries(Object.entries(desired).filter(([k, v]) => actual[k] !== v));
}
