/** docs/cli.md is generated from the command definitions, and `--help` prints the same text (issue 17). */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { commands } from '../../src/cli/commands.js';
import { cliReference } from '../../src/cli/docs.js';
import { main } from '../../src/cli/main.js';

async function help(...args: string[]) {
  const out: string[] = [];
  expect(await main([...args, '--help'], { out: (t) => out.push(t), err: () => {} })).toBe(0);
  return out.join('\n');
}

describe('docs/cli.md', () => {
  const committed = readFileSync('docs/cli.md', 'utf8');

  it('is what the definitions produce (run `npm run docs:cli` after changing a command)', () => {
    expect(committed, 'docs/cli.md is stale: run `npm run docs:cli`').toBe(cliReference());
  });

  it("holds every command's --help exactly as the command prints it", async () => {
    expect(committed).toContain(`\`\`\`text\n${(await help()).trimEnd()}\n\`\`\``);
    for (const c of commands) {
      const text = (await help(c.name)).trimEnd();
      expect(committed, c.name).toContain(`### tripod ${c.name}\n\n\`\`\`text\n${text}\n\`\`\``);
    }
  });

  it('documents the JSON contract of every command with --format json', () => {
    expect(committed).toContain('## JSON output (a contract)');
    for (const c of commands.filter((c) => c.options.some((o) => o.choices?.includes('json'))))
      expect(committed, c.name).toMatch(new RegExp(`\\| \`tripod ${c.name}\` \\| \\S`));
  });
});
