/** Route 53 alias A records pointing at a load balancer. */
import { ChangeResourceRecordSetsCommand, ListResourceRecordSetsCommand } from '@aws-sdk/client-route-53';
import type { AwsClients } from './clients.js';

export interface AliasRecord {
  name: string;
  targetDnsName: string;
  targetZoneId: string;
}

const fqdn = (n: string) => (n.endsWith('.') ? n : `${n}.`);

/** The A alias record `name` in the zone, if any (one call: records are listed from `name` on). */
export async function getAliasRecord(
  aws: AwsClients,
  hostedZoneId: string,
  name: string,
): Promise<AliasRecord | undefined> {
  const r = await aws.route53.send(
    new ListResourceRecordSetsCommand({
      HostedZoneId: hostedZoneId,
      StartRecordName: fqdn(name),
      StartRecordType: 'A',
      MaxItems: 1,
    }),
  );
  const rec = r.ResourceRecordSets?.[0];
  if (!rec || rec.Name !== fqdn(name) || rec.Type !== 'A' || !rec.AliasTarget) return undefined;
  return {
    name,
    targetDnsName: rec.AliasTarget.DNSName!.replace(/\.$/, '').toLowerCase(),
    targetZoneId: rec.AliasTarget.HostedZoneId!,
  };
}

export async function changeAliasRecord(
  aws: AwsClients,
  hostedZoneId: string,
  action: 'UPSERT' | 'DELETE',
  record: AliasRecord,
): Promise<void> {
  await aws.route53.send(
    new ChangeResourceRecordSetsCommand({
      HostedZoneId: hostedZoneId,
      ChangeBatch: {
        Comment: 'tripod',
        Changes: [
          {
            Action: action,
            ResourceRecordSet: {
              Name: fqdn(record.name),
              Type: 'A',
              AliasTarget: {
                DNSName: record.targetDnsName,
                HostedZoneId: record.targetZoneId,
                EvaluateTargetHealth: false,
              },
            },
          },
        ],
      },
    }),
  );
}
