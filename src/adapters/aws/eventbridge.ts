/** EventBridge rules and their targets (on the default bus). Thin: SDK calls in, plain values out. */
import {
  DeleteRuleCommand,
  ListRulesCommand,
  ListTagsForResourceCommand,
  ListTargetsByRuleCommand,
  PutRuleCommand,
  PutTargetsCommand,
  RemoveTargetsCommand,
} from '@aws-sdk/client-eventbridge';
import type { AwsClients } from './clients.js';
import { collectTokens, fromAwsTags, type Tags, toAwsTags } from './tags.js';

export interface Rule {
  name: string;
  arn: string;
  eventPattern: string | undefined;
  scheduleExpression: string | undefined;
  state: string;
  description: string;
}

export interface RuleTarget {
  id: string;
  arn: string;
}

export async function listRules(aws: AwsClients, namePrefix: string): Promise<Rule[]> {
  const rules = await collectTokens(
    (token) =>
      aws.eventBridge.send(
        new ListRulesCommand({ NamePrefix: namePrefix, ...(token ? { NextToken: token } : {}) }),
      ),
    (p) => p.Rules,
  );
  return rules.map((r) => ({
    name: r.Name!,
    arn: r.Arn ?? '',
    eventPattern: r.EventPattern,
    scheduleExpression: r.ScheduleExpression,
    state: r.State ?? 'ENABLED',
    description: r.Description ?? '',
  }));
}

export async function listTargets(aws: AwsClients, rule: string): Promise<RuleTarget[]> {
  const targets = await collectTokens(
    (token) =>
      aws.eventBridge.send(
        new ListTargetsByRuleCommand({ Rule: rule, ...(token ? { NextToken: token } : {}) }),
      ),
    (p) => p.Targets,
  );
  return targets.map((t) => ({ id: t.Id!, arn: t.Arn! }));
}

export async function putRule(
  aws: AwsClients,
  input: {
    name: string;
    eventPattern?: string;
    scheduleExpression?: string;
    description: string;
    tags?: Tags;
  },
): Promise<string> {
  const r = await aws.eventBridge.send(
    new PutRuleCommand({
      Name: input.name,
      ...(input.eventPattern ? { EventPattern: input.eventPattern } : {}),
      ...(input.scheduleExpression ? { ScheduleExpression: input.scheduleExpression } : {}),
      State: 'ENABLED',
      Description: input.description,
      ...(input.tags ? { Tags: toAwsTags(input.tags) } : {}),
    }),
  );
  return r.RuleArn ?? '';
}

export async function putTargets(aws: AwsClients, rule: string, targets: RuleTarget[]) {
  if (targets.length === 0) return;
  const r = await aws.eventBridge.send(
    new PutTargetsCommand({ Rule: rule, Targets: targets.map((t) => ({ Id: t.id, Arn: t.arn })) }),
  );
  if ((r.FailedEntryCount ?? 0) > 0) {
    throw new Error(`EventBridge refused targets of rule ${rule}: ${JSON.stringify(r.FailedEntries)}`);
  }
}

export async function removeTargets(aws: AwsClients, rule: string, ids: string[]) {
  if (ids.length === 0) return;
  await aws.eventBridge.send(new RemoveTargetsCommand({ Rule: rule, Ids: ids }));
}

export async function getRuleTags(aws: AwsClients, arn: string): Promise<Tags> {
  const r = await aws.eventBridge.send(new ListTagsForResourceCommand({ ResourceARN: arn }));
  return fromAwsTags(r.Tags);
}

/** Removes the rule's targets first (EventBridge refuses to delete a rule that has some). */
export async function deleteRule(aws: AwsClients, name: string) {
  const targets = await listTargets(aws, name);
  await removeTargets(
    aws,
    name,
    targets.map((t) => t.id),
  );
  await aws.eventBridge.send(new DeleteRuleCommand({ Name: name }));
}
