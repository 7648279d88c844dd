/**
 * Optional Route 53 alias records for the API and service load balancers. Records carry no tags: tripod
 * only ever touches the records the spec names (a record dropped from the spec is left alone).
 */
import { type AliasRecord, changeAliasRecord, getAliasRecord } from '../adapters/aws/route53.js';
import { loadBalancerKind } from './load-balancer.js';
import { diff, type Found, type ResourceKind } from './resource.js';

export interface DesiredAlias {
  hostedZoneId: string;
  name: string;
  /** Key of the load balancer. */
  loadBalancer: string;
}

export interface ActualAlias {
  hostedZoneId: string;
  record: AliasRecord;
}

export const dnsKind: ResourceKind<DesiredAlias, ActualAlias> = {
  kind: 'dns-record',
  group: 'dns',
  dependsOn: [loadBalancerKind],
  async find(ctx) {
    const wanted: Array<{ key: string; hostedZoneId?: string; dnsName?: string }> = [
      { key: 'dns/api', ...ctx.spec.apiEndpoint },
      { key: 'dns/svc', ...ctx.spec.serviceEndpoint },
    ];
    const found = await Promise.all(
      wanted.map(async (w): Promise<Found<ActualAlias> | undefined> => {
        if (!w.hostedZoneId || !w.dnsName) return undefined;
        const record = await getAliasRecord(ctx.aws, w.hostedZoneId, w.dnsName);
        if (!record) return undefined;
        return {
          key: w.key,
          kind: 'dns-record',
          title: `alias record ${w.dnsName}`,
          id: w.dnsName,
          owned: true,
          attrs: { id: w.dnsName },
          actual: { hostedZoneId: w.hostedZoneId, record },
        };
      }),
    );
    return found.filter((f): f is Found<ActualAlias> => f !== undefined);
  },
  compare(d, f, refs) {
    return {
      changes: [
        ...diff('target', f.actual.record.targetDnsName, refs.get(d.loadBalancer, 'dnsName').toLowerCase()),
        ...diff('targetZone', f.actual.record.targetZoneId, refs.get(d.loadBalancer, 'zoneId')),
      ],
    };
  },
  async create(ctx, d) {
    const record = {
      name: d.value.name,
      targetDnsName: ctx.refs.need(d.value.loadBalancer, 'dnsName'),
      targetZoneId: ctx.refs.need(d.value.loadBalancer, 'zoneId'),
    };
    await changeAliasRecord(ctx.aws, d.value.hostedZoneId, 'UPSERT', record);
    return {
      key: d.key,
      kind: 'dns-record',
      title: d.title,
      id: d.value.name,
      owned: true,
      attrs: { id: d.value.name },
      actual: { hostedZoneId: d.value.hostedZoneId, record },
    };
  },
  async update(ctx, d) {
    await this.create(ctx, d);
    return undefined;
  },
  async delete(ctx, f) {
    await changeAliasRecord(ctx.aws, f.actual.hostedZoneId, 'DELETE', f.actual.record);
  },
};
