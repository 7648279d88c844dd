/** test/support/provision-support.ts exampleSpec: a replacement that finds nothing is refused, not skipped. */
import { describe, expect, it } from 'vitest';
import { exampleSpec, threeZoneSpec } from '../support/provision-support.js';

describe('exampleSpec', () => {
  it('refuses a replacement that finds nothing in the example (the test would run on the example as is)', () => {
    expect(() => exampleSpec('examples/three-zones.yaml', [['name: no-such-name', 'name: x']])).toThrow(
      /examples\/three-zones\.yaml: the replacement of name: no-such-name finds nothing/,
    );
    expect(() => exampleSpec('examples/three-zones.yaml', [[/us-east-9([abc])/g, 'x$1']])).toThrow(
      /finds nothing/,
    );
  });

  it('threeZoneSpec renames the cluster, its region, zones and CIDR', () => {
    const spec = threeZoneSpec('pt-x', 'ap-south-2', '10.49.0.0/16');
    expect(spec.name).toBe('pt-x');
    expect(spec.region).toBe('ap-south-2');
    expect(JSON.stringify(spec)).not.toContain('eu-west-1');
    expect(JSON.stringify(spec)).toContain('10.49.0.0/16');
  });
});
