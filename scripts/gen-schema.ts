// Writes schema/cluster.schema.json from src/cluster-spec/schema.ts (the spec reference table in docs/spec.md
// is written by `npm run docs`, scripts/gen-docs.ts).
import { writeFileSync } from 'node:fs';
import { clusterJsonSchema } from '../src/cluster-spec/reference.js';

writeFileSync('schema/cluster.schema.json', `${JSON.stringify(clusterJsonSchema(), null, 2)}\n`);
console.log('wrote schema/cluster.schema.json (run npm run docs for docs/spec.md)');
