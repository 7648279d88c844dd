/**
 * Issue 15, finding 8, against moto: the load balancers' group admits on 6443 exactly
 * apiEndpoint.allowedCidrs plus the NAT gateways' public addresses (the workers' traffic to an
 * internet-facing API leaves from them), a second plan finds nothing to change, and narrowing the
 * list is an in-place update of the rules.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { AwsClients } from '../../src/adapters/aws/clients.js';
import { findNatGateways, findSecurityGroups, tagFilter } from '../../src/adapters/aws/ec2.js';
import { CLUSTER_TAG } from '../../src/contract/protocol.js';
import { applyPlan, destroy } from '../../src/provision/apply.js';
import { planCluster } from '../../src/provision/plan.js';
import { placeholderBundle } from '../../src/provision/reconciler-function.js';
import { changed, clients, ensureReconcilerRole, exampleSpec } from '../support/provision-support.js';

const endpoint = inject('motoEndpoint');
const REGION = 'ca-central-1';
const spec = changed(
  exampleSpec('examples/three-zones.yaml', [
    ['name: demo-eu', 'name: pt-acl'],
    ['region: eu-west-1', `region: ${REGION}`],
    ['cidr: 10.40.0.0/16', 'cidr: 10.43.0.0/16'],
    [/eu-west-1([abd])/g, `${REGION}$1`],
    [/eu-west-1c/g, `${REGION}d`],
  ]),
  (s) => {
    s.apiEndpoint.scheme = 'internet-facing';
    s.apiEndpoint.allowedCidrs = ['203.0.113.0/24', '198.51.100.0/28'];
  },
);
const options = { reconcilerBundle: placeholderBundle() };

let aws: AwsClients;
beforeAll(async () => {
  await ensureReconcilerRole(endpoint, spec.name);
  aws = clients(endpoint, REGION);
  await applyPlan(await planCluster(aws, spec, options));
});
afterAll(async () => {
  await destroy(aws, spec);
  aws.destroy();
});

const apiSources = async () => {
  const lb = (await findSecurityGroups(aws, [tagFilter(CLUSTER_TAG, spec.name)])).find((g) =>
    g.name.endsWith('-lb'),
  )!;
  return lb.ingress
    .filter((r) => r.fromPort === 6443)
    .map((r) => ('cidr' in r.source ? r.source.cidr : r.source.groupId))
    .sort();
};

describe('apiEndpoint.allowedCidrs in AWS', () => {
  it('admits the given ranges and the NAT gateways, nothing else, on 6443', async () => {
    const nats = await findNatGateways(aws, [tagFilter(CLUSTER_TAG, spec.name)]);
    expect(nats).toHaveLength(3);
    const natCidrs = nats.map((n) => `${n.publicIps[0]}/32`);
    expect(natCidrs.every((c) => /^\d+\.\d+\.\d+\.\d+\/32$/.test(c))).toBe(true);
    expect(await apiSources()).toEqual(['198.51.100.0/28', '203.0.113.0/24', ...natCidrs].sort());
    expect((await planCluster(aws, spec, options)).plan.changes).toEqual([]);
  });

  it('narrowing the list revokes the dropped range in place', async () => {
    const narrower = changed(spec, (s) => {
      s.apiEndpoint.allowedCidrs = ['203.0.113.0/24'];
    });
    const state = await planCluster(aws, narrower, options);
    expect(state.plan.changes.map((c) => [c.action, c.key, c.changes])).toEqual([
      [
        'update',
        'sg-rules/lb',
        [{ field: 'ingress', before: 'tcp 6443 from 198.51.100.0/28', after: undefined }],
      ],
    ]);
    await applyPlan(state);
    expect(await apiSources()).not.toContain('198.51.100.0/28');
    expect((await planCluster(aws, narrower, options)).plan.changes).toEqual([]);
  });
});
