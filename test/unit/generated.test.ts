import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { clusterJsonSchema } from '../../src/cluster-spec/reference.js';

// The spec reference table lives in docs/spec.md (test/unit/docs.test.ts checks it is current).
describe('generated files stay in step with the schema', () => {
  it('schema/cluster.schema.json', () => {
    expect(JSON.parse(readFileSync('schema/cluster.schema.json', 'utf8'))).toEqual(clusterJsonSchema());
  });
});
