/**
 * The reconciler configuration is one zod schema in src/heal/config.ts (issue 17): its type is
 * derived from it, what the provisioner writes parses, and a field that does not fit is named.
 */
import { describe, expect, it } from 'vitest';
import { configParameter } from '../../src/contract/protocol.js';
import { parseReconcilerConfig, reconcilerConfigFromSpec } from '../../src/heal/config.js';
import { exampleSpec } from '../support/provision-support.js';

const spec = exampleSpec('examples/three-zones.yaml', []);
const written = reconcilerConfigFromSpec(spec, {
  apiTargetGroupArn: 'arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/x/1',
  serviceTargetGroupArns: [],
  backupBucket: 'bucket',
  apiLoadBalancerDnsName: 'api.elb.example',
});
const NAME = configParameter(spec.name);

describe('the reconciler configuration', () => {
  it('reads back what the provisioner writes, every field', () => {
    expect(parseReconcilerConfig(JSON.stringify(written), spec.name, NAME)).toEqual({
      ok: true,
      config: written,
    });
  });

  it('names the field that does not fit, including the optional ones', () => {
    const bad = { ...written, apiLoadBalancerDnsName: 42 };
    const r = parseReconcilerConfig(JSON.stringify(bad), spec.name, NAME);
    expect(r).toEqual({
      ok: false,
      problem: expect.stringContaining(`${NAME}: not a reconciler configuration: apiLoadBalancerDnsName`),
    });
    const noMasters = parseReconcilerConfig(
      JSON.stringify({ ...written, expectedMasters: 0 }),
      spec.name,
      NAME,
    );
    expect(noMasters.ok ? '' : noMasters.problem).toMatch(/expectedMasters/);
  });

  it("refuses text that is not JSON and another cluster's configuration", () => {
    expect(parseReconcilerConfig('{', spec.name, NAME)).toMatchObject({
      ok: false,
      problem: expect.stringMatching(/not JSON/),
    });
    expect(parseReconcilerConfig(JSON.stringify(written), 'other', NAME)).toMatchObject({
      ok: false,
      problem: expect.stringContaining(`holds the configuration of cluster ${spec.name}, not other`),
    });
  });

  it('drops fields a newer provisioner added, keeping the rest', () => {
    const r = parseReconcilerConfig(JSON.stringify({ ...written, fromTheFuture: true }), spec.name, NAME);
    expect(r).toEqual({ ok: true, config: written });
  });
});
