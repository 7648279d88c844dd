// Writes schema/cluster.schema.json and the README's spec reference from src/spec/schema.ts.
import { readFileSync, writeFileSync } from 'node:fs';
import { clusterJsonSchema, replaceReference, specReferenceMarkdown } from '../src/spec/reference.js';

writeFileSync('schema/cluster.schema.json', `${JSON.stringify(clusterJsonSchema(), null, 2)}\n`);
writeFileSync('README.md', replaceReference(readFileSync('README.md', 'utf8'), specReferenceMarkdown()));
console.log('wrote schema/cluster.schema.json and the spec reference in README.md');
