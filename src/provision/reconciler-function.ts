/**
 * The reconciler's Lambda function, when tripod deploys it (no `reconciler.functionArn` in the spec).
 * Code is compared by hash: a new upload happens only when the bundle changed. The function runs in
 * the cluster's private subnets with the reconciler security group, so it can reach etcd on 2379.
 * The code is the shipped bundle (reconciler-bundle.ts) unless the caller passes another.
 */

import {
  codeSha256,
  createFunction,
  deleteFunction,
  type EventInvokeConfig,
  type FunctionConfig,
  getFunction,
  type LambdaFunction,
  putEventInvokeConfig,
  type ReadyWait,
  setReservedConcurrency,
  updateFunctionCode,
  updateFunctionConfig,
  waitFunctionReady,
} from '../adapters/aws/lambda.js';
import type { Tags } from '../adapters/aws/tags.js';
import { resourceNames } from '../contract/names.js';
import { RECONCILER_PACKAGE } from '../contract/reconciler-package.js';
import { targetGroupKind } from './load-balancer.js';
import { subnetKind } from './network.js';
import { parameterKind } from './parameters.js';
import {
  type Context,
  diff,
  type FieldChange,
  isOwned,
  type ReconcilerBundle,
  type Refs,
  type ResourceKind,
  UNKNOWN,
} from './resource.js';
import { securityGroupKind } from './security-groups.js';
import { zipSync } from './zip.js';

export interface DesiredFunction {
  name: string;
  bundle: ReconcilerBundle;
  /** The execution role: explicit, or `role/<name>` in the account the cluster's ARNs name. */
  role: { arn: string } | { name: string };
  subnets: string[];
  securityGroups: string[];
  environment: Record<string, string>;
  timeoutSeconds: number;
  memoryMb: number;
  architecture: string;
  reservedConcurrency: number;
  /** Asynchronous events: short-lived and few retries (see RECONCILER_PACKAGE.eventInvoke). */
  eventInvoke: EventInvokeConfig;
  tags: Tags;
}

/**
 * A reconciler function the user runs (`reconciler.functionArn`) must have reserved concurrency 1, as
 * tripod's own has: two passes at once could each make "the pass's one membership change" (issue 14,
 * finding 7). The problem as a plan error naming the field, or undefined.
 */
export async function externalReconcilerProblem(
  aws: Parameters<typeof getFunction>[0],
  functionArn: string,
): Promise<string | undefined> {
  const fn = await getFunction(aws, functionArn);
  if (!fn) return `reconciler.functionArn: ${functionArn} does not exist (or this role cannot read it)`;
  const reserved = fn.config.reservedConcurrency;
  if (reserved === 1) return undefined;
  return `reconciler.functionArn: ${functionArn} has ${reserved === undefined ? 'no reserved concurrency' : `reserved concurrency ${reserved}`}; the reconciler must never run twice at once: reserve exactly 1 (aws lambda put-function-concurrency --function-name ${functionArn} --reserved-concurrent-executions 1)`;
}

/** `arn:<partition>:iam::<account>:role/<name>`, with partition and account from any ARN already known. */
export function roleArn(d: DesiredFunction, refs: Refs): string {
  if ('arn' in d.role) return d.role.arn;
  const known = refs.get('tg/api', 'arn');
  const m = /^arn:([^:]+):[^:]+:[^:]*:(\d{12}):/.exec(known);
  return m ? `arn:${m[1]}:iam::${m[2]}:role/${d.role.name}` : UNKNOWN;
}

function configOf(d: DesiredFunction, refs: Refs): FunctionConfig {
  return {
    roleArn: roleArn(d, refs),
    handler: d.bundle.handler,
    runtime: d.bundle.runtime,
    timeoutSeconds: d.timeoutSeconds,
    memoryMb: d.memoryMb,
    environment: d.environment,
    subnetIds: d.subnets.map((s) => refs.get(s)).sort(),
    securityGroupIds: d.securityGroups.map((s) => refs.get(s)).sort(),
    architecture: d.architecture,
    reservedConcurrency: d.reservedConcurrency,
    eventInvoke: d.eventInvoke,
  };
}

function configChanges(want: FunctionConfig, have: FunctionConfig): FieldChange[] {
  return [
    ...diff('role', have.roleArn, want.roleArn),
    ...diff('handler', have.handler, want.handler),
    ...diff('runtime', have.runtime, want.runtime),
    ...diff('timeout', have.timeoutSeconds, want.timeoutSeconds),
    ...diff('memory', have.memoryMb, want.memoryMb),
    ...diff('environment', have.environment, want.environment),
    ...diff('subnets', have.subnetIds, want.subnetIds),
    ...diff('securityGroups', have.securityGroupIds, want.securityGroupIds),
  ];
}

function codeChanges(want: FunctionConfig, have: FunctionConfig): FieldChange[] {
  return diff('architecture', have.architecture, want.architecture);
}

function concurrencyChanges(want: FunctionConfig, have: FunctionConfig): FieldChange[] {
  return diff('reservedConcurrency', have.reservedConcurrency, want.reservedConcurrency);
}

function eventInvokeChanges(want: FunctionConfig, have: FunctionConfig): FieldChange[] {
  return diff('eventInvoke', have.eventInvoke, want.eventInvoke);
}

/** Waits bounded by the load balancer timeout, with a progress line per poll. */
const readyWait = (ctx: Context): ReadyWait => ({
  timeoutMs: ctx.timeouts.loadBalancerMs,
  progress: (m) => ctx.progress(m),
});

export const reconcilerFunctionKind: ResourceKind<DesiredFunction, LambdaFunction> = {
  kind: 'function',
  group: 'reconciler',
  // It reads the configuration on its first event.
  dependsOn: [subnetKind, securityGroupKind, targetGroupKind, parameterKind],
  async find(ctx) {
    const name = resourceNames(ctx.cluster).reconcilerFunction;
    const fn = await getFunction(ctx.aws, name);
    if (!fn) return [];
    return [
      {
        key: 'fn/reconciler',
        kind: 'function',
        title: `reconciler function ${name}`,
        id: fn.arn,
        owned: isOwned(fn.tags, ctx.cluster),
        attrs: { id: fn.arn, arn: fn.arn },
        actual: fn,
      },
    ];
  },
  compare(d, f, refs) {
    return {
      changes: [
        ...diff('codeSha256', f.actual.codeSha256, codeSha256(d.bundle.zip)),
        ...configChanges(configOf(d, refs), f.actual.config),
        ...codeChanges(configOf(d, refs), f.actual.config),
        ...eventInvokeChanges(configOf(d, refs), f.actual.config),
        ...concurrencyChanges(configOf(d, refs), f.actual.config),
      ],
    };
  },
  async create(ctx, d) {
    const config = configOf(d.value, ctx.refs);
    const arn = await createFunction(
      ctx.aws,
      { name: d.value.name, zip: d.value.bundle.zip, config, tags: d.value.tags },
      readyWait(ctx),
    ).catch((e) => Promise.reject(explainRole(e, config.roleArn)));
    return {
      key: d.key,
      kind: 'function',
      title: d.title,
      id: arn,
      owned: true,
      attrs: { id: arn, arn },
      actual: {
        name: d.value.name,
        arn,
        codeSha256: codeSha256(d.value.bundle.zip),
        config,
        tags: d.value.tags,
      },
    };
  },
  async update(ctx, d, f) {
    const config = configOf(d.value, ctx.refs);
    // A function still Pending (e.g. created by an interrupted apply) refuses updates: wait first.
    await waitFunctionReady(ctx.aws, d.value.name, readyWait(ctx));
    if (configChanges(config, f.actual.config).length) {
      await updateFunctionConfig(ctx.aws, d.value.name, config);
      await waitFunctionReady(ctx.aws, d.value.name, readyWait(ctx));
    }
    if (
      f.actual.codeSha256 !== codeSha256(d.value.bundle.zip) ||
      codeChanges(config, f.actual.config).length
    ) {
      await updateFunctionCode(ctx.aws, d.value.name, d.value.bundle.zip, config.architecture);
      await waitFunctionReady(ctx.aws, d.value.name, readyWait(ctx));
    }
    if (eventInvokeChanges(config, f.actual.config).length && config.eventInvoke) {
      await putEventInvokeConfig(ctx.aws, d.value.name, config.eventInvoke);
    }
    if (concurrencyChanges(config, f.actual.config).length) {
      await setReservedConcurrency(ctx.aws, d.value.name, config.reservedConcurrency);
    }
    return undefined;
  },
  async delete(ctx, f) {
    await deleteFunction(ctx.aws, f.actual.name);
  },
};

/** Lambda's answer when the execution role is missing is cryptic: say what to do. */
export function explainRole(e: unknown, role: string): unknown {
  const text = `${(e as { code?: string }).code ?? ''} ${(e as Error).message ?? ''}`;
  if (!/InvalidParameterValue/.test(text) || !/role/i.test(text)) return e;
  return new Error(
    `the reconciler's execution role ${role} does not exist or Lambda cannot assume it: deploy infra/tripod-cluster.yaml for this cluster (it creates the tripod-<cluster>-reconciler role), or set reconciler.functionArn to a function you run (${(e as Error).message})`,
    { cause: e },
  );
}

/** A tiny do-nothing handler, for tests that ask for it: the CLI and the Action deploy defaultReconcilerBundle(). */
export function placeholderBundle(): ReconcilerBundle {
  const code = [
    '// tripod placeholder reconciler: the real bundle replaces this on the next apply.',
    'export const handler = async (event) => {',
    "  console.log(JSON.stringify({ msg: 'tripod placeholder reconciler', detailType: event?.['detail-type'] }));",
    '  return { placeholder: true };',
    '};',
    '',
  ].join('\n');
  return {
    zip: zipSync({ 'index.mjs': code }),
    handler: RECONCILER_PACKAGE.handler,
    runtime: RECONCILER_PACKAGE.runtime,
  };
}
