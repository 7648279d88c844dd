/** The Action's log starts with its version (issue 17): package.json's, bundled at build time. */
import { readFileSync } from 'node:fs';
import { expect, it, vi } from 'vitest';
import { run } from '../../src/action/main.js';

it('the first line the Action logs is tripod <version>', async () => {
  const { version } = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
  const writes: string[] = [];
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    writes.push(String(chunk));
    return true;
  });
  try {
    // Whatever happens next (here: no inputs, so it fails), the version came first.
    await run(() => {
      throw new Error('no engine in this test');
    }, {});
  } finally {
    spy.mockRestore();
    process.exitCode = undefined;
  }
  expect(writes[0]).toBe(`tripod ${version}\n`);
  expect(writes.length).toBeGreaterThan(1);
});
