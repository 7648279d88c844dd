/**
 * AWS limits the local emulator does not enforce, checked by plan before anything is created: raw
 * user data size, the length of every name tripod gives a resource, listeners per Network Load
 * Balancer, lifecycle hooks per Auto Scaling group, and the Lambda concurrency an account must keep
 * unreserved. Pure: the desired resources in, one message per violation out, each naming the spec
 * field that causes it and what to do.
 *
 * Figures (AWS API references and service quotas):
 *  - EC2 RunInstances / launch template UserData: 16 KB before base64.
 *  - ELBv2 load balancer and target group names: 32 characters. NLB listeners: 50 (not adjustable).
 *  - Auto Scaling group and lifecycle hook names: 255; lifecycle hooks per group: 50.
 *  - Launch template names: 3-128. Security group names: 255.
 *  - Lambda function names: 64; AddPermission statement ids: 100.
 *  - EventBridge rule names: 64.
 *  - SSM parameter names: 1011 characters including the `arn:aws:ssm:<region>:<account>:parameter`
 *    prefix, and at most 15 levels.
 *  - Lambda PutFunctionConcurrency leaves at least 100 unreserved concurrent executions.
 */
import { encodeUserData, USER_DATA_LIMIT } from '../bootstrap/render.js';
import type { ClusterSpec } from '../cluster-spec/schema.js';
import type { DesiredGroup } from './auto-scaling-group.js';
import type { DesiredRule as DesiredEventRule } from './event-rules.js';
import type { DesiredLaunchTemplate } from './launch-templates.js';
import type { DesiredListener, DesiredLoadBalancer, DesiredTargetGroup } from './load-balancer.js';
import type { DesiredParameter } from './parameters.js';
import type { DesiredFunction } from './reconciler-function.js';
import type { Desired } from './resource.js';

export const LIMITS = {
  userDataBytes: USER_DATA_LIMIT,
  loadBalancerName: 32,
  targetGroupName: 32,
  listenersPerNetworkLoadBalancer: 50,
  autoScalingGroupName: 255,
  lifecycleHookName: 255,
  hooksPerGroup: 50,
  launchTemplateName: 128,
  securityGroupName: 255,
  functionName: 64,
  permissionStatementId: 100,
  eventRuleName: 64,
  /** The name after `arn:aws:ssm:<region>:<account>:parameter` counts against 1011 with the prefix. */
  parameterArnAndName: 1011,
  parameterLevels: 15,
  minUnreservedConcurrency: 100,
} as const;

/** What GetAccountSettings says, and how many executions the plan reserves on top of what exists. */
export interface ConcurrencyCheck {
  limit: number;
  unreserved: number;
  reserving: number;
}

/** Every violated limit, as a message naming the spec field; empty when the plan fits. */
export function limitProblems(
  spec: ClusterSpec,
  resources: ReadonlyArray<Desired>,
  concurrency?: ConcurrencyCheck,
): string[] {
  const problems: string[] = [];
  const of = <T>(kind: string) => resources.filter((r) => r.kind === kind) as Array<Desired<T>>;
  const name = (what: string, value: string, max: number) => {
    if (value.length > max)
      problems.push(
        `name: "${spec.name}" makes the ${what} name "${value}" ${value.length} characters long; AWS allows at most ${max} (choose a shorter cluster name)`,
      );
  };

  for (const lt of of<DesiredLaunchTemplate>('launch-template')) {
    name('launch template', lt.value.name, LIMITS.launchTemplateName);
    const bytes = encodeUserData(lt.value.userData).length;
    if (bytes > LIMITS.userDataBytes) {
      const role = lt.key.endsWith('workers') ? 'workers' : 'masters';
      problems.push(
        `${role}: the launch template's user data is ${bytes} bytes; EC2 allows at most ${LIMITS.userDataBytes} bytes before base64 (shorten what the spec adds to the ${role}' bootstrap)`,
      );
    }
  }
  for (const lb of of<DesiredLoadBalancer>('load-balancer'))
    name('load balancer', lb.value.name, LIMITS.loadBalancerName);
  for (const tg of of<DesiredTargetGroup>('target-group'))
    name('target group', tg.value.name, LIMITS.targetGroupName);
  for (const sg of of<{ name: string }>('security-group'))
    name('security group', sg.value.name, LIMITS.securityGroupName);
  for (const f of of<DesiredFunction>('function')) {
    name('Lambda function', f.value.name, LIMITS.functionName);
  }
  for (const r of of<DesiredEventRule>('event-rule')) {
    name('EventBridge rule', r.value.name, LIMITS.eventRuleName);
    // event-rules.ts lets each rule invoke the function with statement id `tripod-<rule>`.
    name('Lambda permission statement id', `tripod-${r.value.name}`, LIMITS.permissionStatementId);
  }
  for (const p of of<DesiredParameter>('parameter')) {
    const arnPrefix = `arn:aws:ssm:${spec.region}:123456789012:parameter`;
    name('SSM parameter', `${arnPrefix}${p.value.name}`, LIMITS.parameterArnAndName);
    const levels = p.value.name.split('/').filter(Boolean).length;
    if (levels > LIMITS.parameterLevels)
      problems.push(
        `name: the SSM parameter ${p.value.name} has ${levels} levels; SSM allows at most ${LIMITS.parameterLevels}`,
      );
  }
  for (const g of of<DesiredGroup>('auto-scaling-group')) {
    name('Auto Scaling group', g.value.name, LIMITS.autoScalingGroupName);
    const hooks = g.value.hooks ?? [];
    for (const h of hooks) name('lifecycle hook', h.name, LIMITS.lifecycleHookName);
    if (hooks.length > LIMITS.hooksPerGroup)
      problems.push(
        `${g.value.role}: ${hooks.length} lifecycle hooks on group ${g.value.name}; Auto Scaling allows at most ${LIMITS.hooksPerGroup} per group`,
      );
  }

  const listeners = new Map<string, number>();
  for (const l of of<DesiredListener>('listener'))
    listeners.set(l.value.loadBalancer, (listeners.get(l.value.loadBalancer) ?? 0) + 1);
  for (const [lbKey, count] of listeners) {
    if (count <= LIMITS.listenersPerNetworkLoadBalancer) continue;
    const lb = resources.find((r) => r.key === lbKey) as Desired<DesiredLoadBalancer> | undefined;
    const field = lbKey === 'lb/api' ? 'apiEndpoint' : 'serviceEndpoint.ports';
    problems.push(
      `${field}: ${count} listeners on load balancer ${lb?.value.name ?? lbKey}; a Network Load Balancer takes at most ${LIMITS.listenersPerNetworkLoadBalancer} (not adjustable): use fewer ports`,
    );
  }

  if (concurrency && concurrency.reserving > 0) {
    const left = concurrency.unreserved - concurrency.reserving;
    if (left < LIMITS.minUnreservedConcurrency)
      problems.push(
        `reconciler: reserving ${concurrency.reserving} concurrent execution(s) for the reconciler function would leave ${left} unreserved of the account's ${concurrency.limit} in ${spec.region}; Lambda requires at least ${LIMITS.minUnreservedConcurrency} unreserved. Request a higher "Concurrent executions" quota for Lambda in Service Quotas, or set reconciler.functionArn to a function you run`,
      );
  }
  return problems;
}

/** Plan refuses a spec that breaks an AWS limit, before anything is created. */
export class LimitError extends Error {
  override name = 'LimitError';
  constructor(readonly problems: string[]) {
    super(
      `the spec breaks ${problems.length} AWS limit(s); nothing was changed:\n${problems.map((p) => `  - ${p}`).join('\n')}`,
    );
  }
}
