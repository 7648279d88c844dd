/**
 * EventBridge rules that route this cluster's events to the reconciler function: lifecycle actions of
 * its groups, EC2 instance state changes, the nodes' `tripod.node` ready events, and a one-minute
 * schedule (events are best effort: the schedule catches what was lost).
 */

import {
  deleteRule,
  getRuleTags,
  listRules,
  listTargets,
  putRule,
  putTargets,
  type Rule,
  type RuleTarget,
  removeTargets,
} from '../adapters/aws/eventbridge.js';
import { allowEventBridge } from '../adapters/aws/lambda.js';
import type { Tags } from '../adapters/aws/tags.js';
import { EVENT_RULES, type EventRuleName, resourceNames } from '../contract/names.js';
import { reconcilerFunctionKind } from './reconciler-function.js';
import { type Context, diff, type Found, isOwned, type Refs, type ResourceKind } from './resource.js';

export const TARGET_ID = 'tripod-reconciler';

export interface DesiredRule {
  name: string;
  description: string;
  eventPattern?: Record<string, unknown>;
  schedule?: string;
  /** The function: the key of the one tripod deploys, or an ARN from the spec. */
  target: { key: string } | { arn: string };
  tags: Tags;
}

export interface ActualRule {
  rule: Rule;
  targets: RuleTarget[];
}

const targetArn = (d: DesiredRule, refs: Refs) =>
  'arn' in d.target ? d.target.arn : refs.get(d.target.key, 'arn');

/** Sorted-key JSON, so equal patterns compare equal whatever order AWS returns keys in. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

const patternText = (p: string | Record<string, unknown> | undefined) =>
  p === undefined ? undefined : canonical(typeof p === 'string' ? JSON.parse(p) : p);

async function ensureOwned(ctx: Context, f: Found<ActualRule>) {
  const tags = await getRuleTags(ctx.aws, f.actual.rule.arn);
  if (!isOwned(tags, ctx.cluster)) {
    throw new Error(
      `event rule ${f.actual.rule.name} does not carry the tags of cluster ${ctx.cluster}: tripod leaves it alone`,
    );
  }
}

async function write(ctx: Context, d: DesiredRule, existing: RuleTarget[] | undefined): Promise<string> {
  const arn = await putRule(ctx.aws, {
    name: d.name,
    description: d.description,
    ...(d.eventPattern ? { eventPattern: JSON.stringify(d.eventPattern) } : {}),
    ...(d.schedule ? { scheduleExpression: d.schedule } : {}),
    ...(existing ? {} : { tags: d.tags }),
  });
  const fn = 'arn' in d.target ? d.target.arn : ctx.refs.need(d.target.key, 'arn');
  if ('key' in d.target) await allowEventBridge(ctx.aws, fn, `tripod-${d.name}`, arn);
  const stale = (existing ?? []).filter((t) => t.id !== TARGET_ID || t.arn !== fn).map((t) => t.id);
  await removeTargets(
    ctx.aws,
    d.name,
    stale.filter((id) => id !== TARGET_ID),
  );
  if (!existing?.some((t) => t.id === TARGET_ID && t.arn === fn)) {
    await putTargets(ctx.aws, d.name, [{ id: TARGET_ID, arn: fn }]);
  }
  return arn;
}

export const eventRuleKind: ResourceKind<DesiredRule, ActualRule> = {
  kind: 'event-rule',
  group: 'events',
  dependsOn: [reconcilerFunctionKind],
  async find(ctx) {
    const names = resourceNames(ctx.cluster);
    const byName = new Map(EVENT_RULES.map((r) => [names.eventRule(r), r] as [string, EventRuleName]));
    const rules = (await listRules(ctx.aws, `${ctx.cluster}-`)).filter((r) => byName.has(r.name));
    return Promise.all(
      rules.map(async (r) => ({
        key: `rule/${byName.get(r.name)}`,
        kind: 'event-rule',
        title: `event rule ${r.name}`,
        id: r.name,
        // Rule tags cost a call each: checked before anything is changed or deleted (ensureOwned).
        owned: true,
        attrs: { id: r.name, arn: r.arn },
        actual: { rule: r, targets: await listTargets(ctx.aws, r.name) },
      })),
    );
  },
  compare(d, f, refs) {
    const fn = targetArn(d, refs);
    return {
      changes: [
        ...diff('eventPattern', patternText(f.actual.rule.eventPattern), patternText(d.eventPattern)),
        ...diff('schedule', f.actual.rule.scheduleExpression, d.schedule),
        ...diff('state', f.actual.rule.state, 'ENABLED'),
        ...diff(
          'targets',
          f.actual.targets.map((t) => t.arn),
          [fn],
        ),
      ],
    };
  },
  async create(ctx, d) {
    const arn = await write(ctx, d.value, undefined);
    return {
      key: d.key,
      kind: 'event-rule',
      title: d.title,
      id: d.value.name,
      owned: true,
      attrs: { id: d.value.name, arn },
      actual: {
        rule: {
          name: d.value.name,
          arn,
          eventPattern: undefined,
          scheduleExpression: d.value.schedule,
          state: 'ENABLED',
          description: '',
        },
        targets: [],
      },
    };
  },
  async update(ctx, d, f) {
    await ensureOwned(ctx, f);
    await write(ctx, d.value, f.actual.targets);
    return undefined;
  },
  async delete(ctx, f) {
    await ensureOwned(ctx, f);
    await deleteRule(ctx.aws, f.actual.rule.name);
  },
};
