/** test/support/child.ts runChild: everything the child printed, even what was still in the pipe at its exit. */
import { describe, expect, it } from 'vitest';
import { runChild } from '../support/child.js';

describe('runChild', () => {
  it('collects what is printed after the exit by a process that still holds its output (it waits for close, not exit)', async () => {
    const late = `setTimeout(() => process.stdout.write('late'), 300)`;
    const r = await runChild(process.execPath, [
      '-e',
      `require('node:child_process').spawn(process.execPath, ['-e', ${JSON.stringify(late)}], { stdio: 'inherit' }).unref();
       process.stdout.write('early '); process.stderr.write('done'); process.exitCode = 3;`,
    ]);
    expect(r).toEqual({ code: 3, stdout: 'early late', stderr: 'done' });
  });

  it('rejects when the command cannot be started', async () => {
    await expect(runChild('/nonexistent/tripod-no-such-binary', [])).rejects.toThrow(/ENOENT/);
  });
});
