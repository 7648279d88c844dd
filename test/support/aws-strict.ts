/**
 * AWS behaviour moto does not model, added to a client as middleware (moto still answers everything
 * else), so the test world refuses what AWS refuses (reference: /work/shared/reference/aws-behaviour.md):
 *  - Lambda: a new (VPC) function is `Pending` for a while; until it is `Active`, calls other than
 *    reads fail with ResourceConflictException. moto makes every function Active at once.
 *  - Lambda GetAccountSettings (moto lacks it): the account's concurrency quota and what is unreserved.
 *  - EC2: a subnet or security group still used by a network interface (the reconciler's ENIs linger
 *    after the function is deleted) refuses deletion with DependencyViolation. moto deletes it.
 */
import type { AwsClients } from '../../src/adapters/aws/clients.js';

type Middleware = Parameters<AwsClients['lambda']['middlewareStack']['add']>[0];

function awsError(name: string, message: string, status = 400): Error {
  return Object.assign(new Error(message), {
    name,
    Code: name,
    $fault: 'client',
    $metadata: { httpStatusCode: status },
  });
}

/** Runs `handle` before the request goes to moto; its result (if any) is the answer. */
function intercept(
  client: AwsClients['lambda'] | AwsClients['ec2'],
  name: string,
  handle: (command: string, input: Record<string, unknown>) => Record<string, unknown> | undefined,
): void {
  const m: Middleware = (next, context) => async (args) => {
    const out = handle(String(context.commandName ?? ''), args.input as Record<string, unknown>);
    if (out) return { output: { $metadata: {}, ...out }, response: {} } as never;
    return next(args);
  };
  (client.middlewareStack as { add(m: Middleware, o: object): void }).add(m, {
    step: 'initialize',
    name,
    priority: 'low',
  });
}

/** Lambda functions are Pending for `pendingPolls` GetFunctionConfiguration calls after CreateFunction. */
export function pendingFunctions(aws: AwsClients, pendingPolls = 2): { polls: string[] } {
  const pending = new Map<string, number>();
  const seen = { polls: [] as string[] };
  const READS = new Set(['GetFunctionCommand', 'GetFunctionConfigurationCommand', 'ListTagsCommand']);
  intercept(aws.lambda, 'strictPendingFunctions', (command, input) => {
    const name = String(input.FunctionName ?? '');
    const left = pending.get(name);
    if (command === 'GetFunctionConfigurationCommand' && left !== undefined) {
      seen.polls.push(left > 0 ? 'Pending' : 'Active');
      if (left > 0) {
        pending.set(name, left - 1);
        return {
          FunctionName: name,
          State: 'Pending',
          StateReason: 'The function is being created.',
          LastUpdateStatus: 'InProgress',
        };
      }
      pending.delete(name);
      return undefined;
    }
    if (left !== undefined && !READS.has(command)) {
      throw awsError(
        'ResourceConflictException',
        `The operation cannot be performed at this time. The function is currently in the following state: Pending`,
        409,
      );
    }
    return undefined;
  });
  // After moto created it, the function starts Pending.
  aws.lambda.middlewareStack.add(
    (next, context) => async (args) => {
      const r = await next(args);
      if (context.commandName === 'CreateFunctionCommand')
        pending.set(String((args.input as { FunctionName?: string }).FunctionName), pendingPolls);
      return r;
    },
    { step: 'initialize', name: 'strictPendingAfterCreate', priority: 'low' },
  );
  return seen;
}

/** lambda:GetAccountSettings answers with this quota (moto does not implement the call). */
export function accountSettings(aws: AwsClients, limit: number, unreserved: number): void {
  intercept(aws.lambda, 'strictAccountSettings', (command) =>
    command === 'GetAccountSettingsCommand'
      ? { AccountLimit: { ConcurrentExecutions: limit, UnreservedConcurrentExecutions: unreserved } }
      : undefined,
  );
}

/** Subnets and security groups in `inUse` refuse deletion (a lingering ENI) while `inUse()` says so. */
export function lingeringInterfaces(aws: AwsClients, inUse: (id: string) => boolean): { refused: string[] } {
  const log = { refused: [] as string[] };
  intercept(aws.ec2, 'strictLingeringInterfaces', (command, input) => {
    const id = String(input.SubnetId ?? input.GroupId ?? '');
    if ((command === 'DeleteSubnetCommand' || command === 'DeleteSecurityGroupCommand') && inUse(id)) {
      log.refused.push(id);
      throw awsError(
        'DependencyViolation',
        `The ${command === 'DeleteSubnetCommand' ? 'subnet' : 'security group'} '${id}' has dependencies and cannot be deleted.`,
      );
    }
    return undefined;
  });
  return log;
}
