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
  GetFunctionCommand,
  GetFunctionConfigurationCommand,
  PutFunctionConcurrencyCommand,
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

export async function createFunction(
  aws: AwsClients,
  input: { name: string; zip: Uint8Array; config: FunctionConfig; tags: Tags },
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
  await setReservedConcurrency(aws, input.name, input.config.reservedConcurrency);
  return r.FunctionArn!;
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

/** Lambda refuses a second update while one is in progress (ResourceConflictException): wait it out. */
export async function waitFunctionUpdated(aws: AwsClients, name: string, timeoutMs: number) {
  await waitFor(
    `function ${name} to finish updating`,
    async () => {
      const r = await aws.lambda.send(new GetFunctionConfigurationCommand({ FunctionName: name }));
      if (r.LastUpdateStatus === 'Failed') {
        throw new Error(`updating function ${name} failed: ${r.LastUpdateStatusReason ?? 'no reason given'}`);
      }
      return r.LastUpdateStatus === 'InProgress' || r.State === 'Pending' ? undefined : true;
    },
    { timeoutMs, intervalMs: 1000 },
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
