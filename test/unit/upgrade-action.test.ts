/** The Action's `abort` input for command upgrade: parsed, refused elsewhere, passed to the engine, nothing applied first. */
import { describe, expect, it } from 'vitest';
import type { RunContext } from '../../src/action/context.js';
import type { Engine, UpgradeOptions } from '../../src/action/engine.js';
import { InputError, parseInputs } from '../../src/action/inputs.js';
import type { CommandRun, Runner } from '../../src/action/runner.js';
import { upgradeCommand } from '../../src/action/upgrade.js';
import { deriveTopology } from '../../src/cluster-spec/topology.js';
import { minimalClusterSpec } from '../support/spec-text.js';

const spec = minimalClusterSpec({ name: 'abort-demo' });

describe('abort input', () => {
  const read = (inputs: Record<string, string>) => (n: string) => inputs[n] ?? '';
  it('defaults to false and parses true for upgrade', () => {
    expect(parseInputs(read({ command: 'upgrade' }), 'workflow_dispatch').abort).toBe(false);
    expect(parseInputs(read({ command: 'upgrade', abort: 'true' }), 'workflow_dispatch').abort).toBe(true);
  });
  it('is refused with another command, and when not a boolean', () => {
    expect(() => parseInputs(read({ command: 'apply', abort: 'true' }), 'push')).toThrow(
      /abort: only used with command upgrade \(command is apply\)/,
    );
    expect(() => parseInputs(read({ command: 'upgrade', abort: 'maybe' }), 'push')).toThrow(InputError);
  });

  it('upgrade with abort applies nothing and asks the engine to roll back', async () => {
    const calls: string[] = [];
    let seen: UpgradeOptions | undefined;
    const engine = {
      plan: async () => {
        calls.push('plan');
        throw new Error('must not plan');
      },
      apply: async () => {
        calls.push('apply');
      },
      upgrade: async (_s: unknown, o: UpgradeOptions) => {
        seen = o;
        o.onProgress('+0m00s abort: rolling back masters refresh r-1: rollback started');
        return {
          result: 'aborted' as const,
          message: 'rolled back: masters on launch template version 1',
          paused: false,
          replacements: [],
          table: '',
          elapsedMs: 1000,
        };
      },
    } as unknown as Engine;
    const log: string[] = [];
    let summary = '';
    const runner: Runner = {
      info: (t) => log.push(t),
      warning: (t) => log.push(t),
      startGroup: (n) => log.push(`::group::${n}`),
      endGroup: () => log.push('::endgroup::'),
      setOutput: () => {},
      setSecret: () => {},
      summary: async (md) => {
        summary += md;
      },
    };
    const run: CommandRun = {
      inputs: parseInputs((n) => ({ command: 'upgrade', abort: 'true' })[n] ?? '', 'workflow_dispatch'),
      spec,
      topology: deriveTopology(spec),
      context: {} as RunContext,
      engine,
      runner,
    };
    await upgradeCommand(run);
    expect(calls).toEqual([]);
    expect(seen?.abort).toBe(true);
    expect(log).toContain('::group::Abort the upgrade of abort-demo');
    expect(summary).toMatch(/\*\*aborted\*\*/);
  });
});
