/**
 * The reconciler configuration the provisioner writes says whether the master group has a warm pool
 * (`masterWarmPool`, from `masters.warmPool.size`), so a pass skips DescribeWarmPool without one
 * (heal-ports-warm-pool.test.ts counts the calls).
 */
import { describe, expect, it } from 'vitest';
import { parseReconcilerConfig, type ReconcilerConfig } from '../../src/heal/config.js';
import { desiredCluster } from '../../src/provision/desired.js';
import type { DesiredParameter } from '../../src/provision/parameters.js';
import { Refs } from '../../src/provision/resource.js';
import { simSpec } from '../../src/sim/sim-spec.js';

/** The configuration parameter's text as the provisioner's apply renders it. */
function renderedConfig(poolSize: number): ReconcilerConfig {
  const spec = simSpec({
    cluster: 'wp',
    region: 'eu-west-1',
    zones: ['eu-west-1a', 'eu-west-1b', 'eu-west-1c'],
    masters: 3,
    warmPool: { size: poolSize },
  });
  const param = desiredCluster(spec).resources.find((r) => r.key === 'param/config');
  if (!param) throw new Error('no param/config in the desired resources');
  const refs = new Refs();
  refs.set('tg/api', { arn: 'arn:tg/api' });
  refs.set('lb/api', { dnsName: 'api.elb.example' });
  for (const p of spec.serviceEndpoint.ports) refs.set(`tg/svc-${p.port}`, { arn: `arn:tg/${p.port}` });
  const text = (param.value as DesiredParameter).render(refs);
  const parsed = parseReconcilerConfig(text, 'wp', '/tripod/wp/config');
  if (!parsed.ok) throw new Error(parsed.problem);
  return parsed.config;
}

describe('reconciler configuration: masterWarmPool', () => {
  it('is true for a spec with a warm pool (the default size 1)', () => {
    expect(renderedConfig(1).masterWarmPool).toBe(true);
  });

  it('is false for masters.warmPool.size 0', () => {
    expect(renderedConfig(0).masterWarmPool).toBe(false);
  });
});
