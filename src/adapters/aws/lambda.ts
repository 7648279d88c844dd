/**
 * The reconciler's Lambda function: created, and updated only when the code hash or the configuration
 * changed. Code comes in as bytes (a zip), so the Lambda work can plug in its bundle.
 */
import { createHash } from 'node:crypto';
import {
  AddPermissionCommand,
  CreateFunctionCommand,
  DeleteFunctionCommand,
  DeleteFunctionConcurrencyCommand,
  GetAccountSettingsCommand,
  GetFunctionCommand,
  GetFunctionConfigurationCommand,
  GetFunctionEventInvokeConfigCommand,
  PutFunctionConcurrencyCommand,
  PutFunctionEventInvokeConfigCommand,
  UpdateFunctionCodeCommand,
  UpdateFunctionConfigurationCommand,
} from '@aws-sdk/client-lambda';
import type { AwsClients } from './clients.js';
import { isNotFound } from './errors.js';
import { type Tags, waitFor } from './tags.js';

/** The configuration fields tripod owns. */
export interface FunctionConfig {
  roleArn: string;
  handler: string;
  runtime: string;
  timeoutSeconds: number;
  memoryMb: number;
  environment: Record<string, string>;
  subnetIds: string[];
  securityGroupIds: string[];
  /** `arm64` or `x86_64` (changed through UpdateFunctionCode, not the configuration call). */
  architecture: string;
  /** Reserved concurrency; undefined when unreserved. */
  reservedConcurrency: number | undefined;
  /** Asynchronous invocation: how old an event may get, and how often a failed one is retried. */
  eventInvoke: EventInvokeConfig | undefined;
}

/** PutFunctionEventInvokeConfig: age 60-21600 s (Lambda's default: 6 hours), retries 0-2 (default 2). */
export interface EventInvokeConfig {
  maximumEventAgeSeconds: number;
  maximumRetryAttempts: number;
}

export interface LambdaFunction {
  name: string;
  arn: string;
  /** Base64 SHA-256 of the deployment package, as Lambda reports it. */
  codeSha256: string;
  config: FunctionConfig;
  tags: Tags;
}

/** The hash Lambda reports for a package: base64 of its SHA-256. */
export const codeSha256 = (zip: Uint8Array) => createHash('sha256').update(zip).digest('base64');

export async function getFunction(aws: AwsClients, name: string): Promise<LambdaFunction | undefined> {
  try {
    const r = await aws.lambda.send(new GetFunctionCommand({ FunctionName: name }));
    const c = r.Configuration!;
    const eventInvoke = await getEventInvokeConfig(aws, name);
    return {
      name: c.FunctionName!,
      arn: c.FunctionArn!,
      codeSha256: c.CodeSha256 ?? '',
      config: {
        roleArn: c.Role ?? '',
        handler: c.Handler ?? '',
        runtime: c.Runtime ?? '',
        timeoutSeconds: c.Timeout ?? 3,
        memoryMb: c.MemorySize ?? 128,
        environment: { ...(c.Environment?.Variables ?? {}) },
        subnetIds: [...(c.VpcConfig?.SubnetIds ?? [])].sort(),
        securityGroupIds: [...(c.VpcConfig?.SecurityGroupIds ?? [])].sort(),
        architecture: c.Architectures?.[0] ?? 'x86_64',
        reservedConcurrency: r.Concurrency?.ReservedConcurrentExecutions,
        eventInvoke,
      },
      tags: { ...(r.Tags ?? {}) },
    };
  } catch (e) {
    if (isNotFound(e)) return undefined;
    throw e;
  }
}

const configInput = (c: FunctionConfig) => ({
  Role: c.roleArn,
  Handler: c.handler,
  Runtime: c.runtime as never,
  Timeout: c.timeoutSeconds,
  MemorySize: c.memoryMb,
  Environment: { Variables: c.environment },
  VpcConfig: { SubnetIds: c.subnetIds, SecurityGroupIds: c.securityGroupIds },
});

/**
 * Creates the function, waits until it is Active (a VPC function is Pending for a while and Lambda
 * refuses other calls until then), then sets its asynchronous invocation and reserved concurrency.
 */
export async function createFunction(
  aws: AwsClients,
  input: { name: string; zip: Uint8Array; config: FunctionConfig; tags: Tags },
  wait: ReadyWait,
): Promise<string> {
  const r = await aws.lambda.send(
    new CreateFunctionCommand({
      FunctionName: input.name,
      Code: { ZipFile: input.zip },
      ...configInput(input.config),
      Architectures: [input.config.architecture as never],
      Tags: input.tags,
    }),
  );
  await waitFunctionReady(aws, input.name, wait);
  if (input.config.eventInvoke) await putEventInvokeConfig(aws, input.name, input.config.eventInvoke);
  await setReservedConcurrency(aws, input.name, input.config.reservedConcurrency);
  return r.FunctionArn!;
}

/** The account's concurrency: its quota, and what no function has reserved (GetAccountSettings). */
export async function accountConcurrency(
  aws: AwsClients,
): Promise<{ limit: number; unreserved: number } | undefined> {
  const r = await aws.lambda.send(new GetAccountSettingsCommand({}));
  const limit = r.AccountLimit?.ConcurrentExecutions;
  const unreserved = r.AccountLimit?.UnreservedConcurrentExecutions;
  return limit === undefined || unreserved === undefined ? undefined : { limit, unreserved };
}

export async function getEventInvokeConfig(
  aws: AwsClients,
  name: string,
): Promise<EventInvokeConfig | undefined> {
  try {
    const r = await aws.lambda.send(new GetFunctionEventInvokeConfigCommand({ FunctionName: name }));
    return {
      maximumEventAgeSeconds: r.MaximumEventAgeInSeconds ?? 21600,
      maximumRetryAttempts: r.MaximumRetryAttempts ?? 2,
    };
  } catch (e) {
    if (isNotFound(e)) return undefined;
    throw e;
  }
}

/** Replaces the function's asynchronous invocation settings (Put, not Update: the whole config). */
export async function putEventInvokeConfig(aws: AwsClients, name: string, c: EventInvokeConfig) {
  await aws.lambda.send(
    new PutFunctionEventInvokeConfigCommand({
      FunctionName: name,
      MaximumEventAgeInSeconds: c.maximumEventAgeSeconds,
      MaximumRetryAttempts: c.maximumRetryAttempts,
    }),
  );
}

/** Reserved concurrency 1 is what makes the reconciler the single writer of etcd membership. */
export async function setReservedConcurrency(aws: AwsClients, name: string, reserved: number | undefined) {
  if (reserved === undefined) {
    await aws.lambda.send(new DeleteFunctionConcurrencyCommand({ FunctionName: name }));
    return;
  }
  await aws.lambda.send(
    new PutFunctionConcurrencyCommand({ FunctionName: name, ReservedConcurrentExecutions: reserved }),
  );
}

export async function updateFunctionCode(
  aws: AwsClients,
  name: string,
  zip: Uint8Array,
  architecture: string,
) {
  await aws.lambda.send(
    new UpdateFunctionCodeCommand({
      FunctionName: name,
      ZipFile: zip,
      Architectures: [architecture as never],
    }),
  );
}

export async function updateFunctionConfig(aws: AwsClients, name: string, config: FunctionConfig) {
  await aws.lambda.send(
    new UpdateFunctionConfigurationCommand({ FunctionName: name, ...configInput(config) }),
  );
}

export interface ReadyWait {
  timeoutMs: number;
  /** A line per poll while the function is not ready. */
  progress?: (message: string) => void;
  intervalMs?: number;
}

/**
 * Waits until the function is `Active` and its last update `Successful`: a new VPC function is
 * `Pending`, and an update `InProgress`, and Lambda refuses other calls (PutFunctionConcurrency,
 * another update: ResourceConflictException) until then. Bounded by `timeoutMs`.
 */
export async function waitFunctionReady(aws: AwsClients, name: string, wait: ReadyWait) {
  const started = Date.now();
  await waitFor(
    `function ${name} to become Active`,
    async () => {
      const r = await aws.lambda.send(new GetFunctionConfigurationCommand({ FunctionName: name }));
      if (r.State === 'Failed' || r.LastUpdateStatus === 'Failed') {
        throw new Error(
          `function ${name} failed: ${r.StateReason ?? r.LastUpdateStatusReason ?? 'no reason given'}`,
        );
      }
      const ready = r.State === 'Active' && (r.LastUpdateStatus ?? 'Successful') === 'Successful';
      if (ready) return true;
      wait.progress?.(
        `function ${name} is ${r.State ?? 'unknown'} (last update ${r.LastUpdateStatus ?? 'unknown'}) after ${Math.round((Date.now() - started) / 1000)} s, waiting`,
      );
      return undefined;
    },
    { timeoutMs: wait.timeoutMs, intervalMs: wait.intervalMs ?? 1000 },
  );
}

/** Lets EventBridge rules invoke the function (idempotent: an existing statement is fine). */
export async function allowEventBridge(aws: AwsClients, name: string, statementId: string, ruleArn: string) {
  try {
    await aws.lambda.send(
      new AddPermissionCommand({
        FunctionName: name,
        StatementId: statementId,
        Action: 'lambda:InvokeFunction',
        Principal: 'events.amazonaws.com',
        SourceArn: ruleArn,
      }),
    );
  } catch (e) {
    if (!/ResourceConflict/.test((e as { code?: string }).code ?? '')) throw e;
  }
}

export async function deleteFunction(aws: AwsClients, name: string) {
  try {
    await aws.lambda.send(new DeleteFunctionCommand({ FunctionName: name }));
  } catch (e) {
    if (!isNotFound(e)) throw e;
  }
}
