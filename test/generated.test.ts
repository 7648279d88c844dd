import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { clusterJsonSchema, replaceReference, specReferenceMarkdown } from '../src/spec/reference.js';

describe('generated files stay in step with the schema', () => {
  it('schema/cluster.schema.json', () => {
    expect(JSON.parse(readFileSync('schema/cluster.schema.json', 'utf8'))).toEqual(clusterJsonSchema());
  });
  it("the README's spec reference", () => {
    const readme = readFileSync('README.md', 'utf8');
    expect(replaceReference(readme, specReferenceMarkdown())).toBe(readme);
  });
});
