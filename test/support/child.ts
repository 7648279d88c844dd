/** Runs a child process to its end and collects what it printed (for tests that run a built bundle). */
import { type SpawnOptions, spawn } from 'node:child_process';

export interface ChildResult {
  /** null when a signal ended it. */
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Resolves on 'close', not 'exit': a child's output streams may still hold data when it exits, and a
 * test reading its last line after 'exit' can miss it. Rejects when the child cannot be started.
 */
export function runChild(command: string, args: string[], options: SpawnOptions = {}): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => {
      stdout += d;
    });
    child.stderr!.on('data', (d) => {
      stderr += d;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
