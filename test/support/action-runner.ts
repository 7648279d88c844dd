/** A stand-in for the Action's runner (src/action/runner.ts) that records the log, outputs and summary. */
import type { Runner } from '../../src/action/runner.js';

export function recorder() {
  const log: string[] = [];
  const outputs: Record<string, string> = {};
  let summary = '';
  const runner: Runner = {
    info: (t) => log.push(t),
    warning: (t) => log.push(`::warning::${t}`),
    startGroup: (n) => log.push(`::group::${n}`),
    endGroup: () => log.push('::endgroup::'),
    setOutput: (n, v) => {
      outputs[n] = v;
    },
    setSecret: () => {},
    summary: async (md) => {
      summary += md;
    },
  };
  return { runner, log, outputs, summary: () => summary };
}
