/** Writes docs/cli.md from the CLI's command definitions (`npm run docs:cli`). */
import { writeFileSync } from 'node:fs';
import { cliReference } from '../src/cli/docs.js';

writeFileSync(new URL('../docs/cli.md', import.meta.url), cliReference());
console.log('wrote docs/cli.md');
