/** STS: who the caller is (the account id names the cluster's backup bucket). */
import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import type { AwsClients } from './clients.js';

/** The 12-digit account id of the credentials in use (sts:GetCallerIdentity needs no permission). */
export async function callerAccountId(aws: Pick<AwsClients, 'sts'>): Promise<string> {
  const r = await aws.sts.send(new GetCallerIdentityCommand({}));
  if (!r.Account || !/^\d{12}$/.test(r.Account))
    throw new Error(`sts:GetCallerIdentity returned no account id (got ${JSON.stringify(r.Account)})`);
  return r.Account;
}

/** The ARN of the credentials in use (an IAM user, or an assumed role with its session name). */
export async function callerArn(aws: Pick<AwsClients, 'sts'>): Promise<string> {
  const r = await aws.sts.send(new GetCallerIdentityCommand({}));
  if (!r.Arn) throw new Error('sts:GetCallerIdentity returned no ARN');
  return r.Arn;
}
