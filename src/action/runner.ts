/**
 * What a command may do to the runner: log (grouped), annotate, set outputs, mask secrets, write
 * the job summary. main.ts backs it with @actions/core; commands never import core themselves.
 */

import type { ClusterSpec } from '../cluster-spec/schema.js';
import type { Topology } from '../cluster-spec/topology.js';
import type { RunContext } from './context.js';
import type { Engine } from './engine.js';
import { ActionError } from './errors.js';
import type { ActionInputs } from './inputs.js';
import { withTimeout } from './timeout.js';

export const OUTPUTS = [
  'has-changes',
  'changes-count',
  'plan-json',
  'api-endpoint',
  'service-endpoint',
  'cluster-name',
  'plan-file',
  'spec-hash',
  'observed-hash',
] as const;
export type OutputName = (typeof OUTPUTS)[number];

export interface Runner {
  info(text: string): void;
  warning(text: string): void;
  startGroup(name: string): void;
  endGroup(): void;
  setOutput(name: OutputName, value: string): void;
  setSecret(value: string): void;
  /** Appends Markdown to the job summary. */
  summary(markdown: string): Promise<void>;
}

/** Everything a command gets. */
export interface CommandRun {
  inputs: ActionInputs;
  spec: ClusterSpec;
  topology: Topology;
  context: RunContext;
  engine: Engine;
  runner: Runner;
}

/**
 * Streams progress lines into one log group per step: a new group opens when the step changes.
 * Returns the last line seen, for timeout and failure messages.
 */
export function groupedProgress(runner: Runner) {
  let open: string | undefined;
  let last = '';
  return {
    onProgress(e: { group: string; message: string }) {
      if (e.group !== open) {
        if (open !== undefined) runner.endGroup();
        runner.startGroup(e.group);
        open = e.group;
      }
      last = `${e.group}: ${e.message}`;
      runner.info(e.message);
    },
    close() {
      if (open !== undefined) runner.endGroup();
      open = undefined;
    },
    get last() {
      return last;
    },
  };
}

/**
 * Runs a long step (apply, destroy) with its progress grouped per step, bounded by `minutes`. A
 * failure becomes an ActionError naming the last step seen (the provisioner's own errors already do).
 */
export async function runGrouped<T>(
  runner: Runner,
  what: string,
  minutes: number,
  work: (signal: AbortSignal, onProgress: (e: { group: string; message: string }) => void) => Promise<T>,
): Promise<T> {
  const progress = groupedProgress(runner);
  try {
    return await withTimeout(
      what,
      minutes,
      () => progress.last,
      (signal) => work(signal, progress.onProgress),
    );
  } catch (e) {
    if (e instanceof ActionError) throw e;
    const at = progress.last && (e as Error).name !== 'ProvisionError' ? ` (at ${progress.last})` : '';
    throw new ActionError(`${what} failed${at}: ${(e as Error).message}`, { cause: e });
  } finally {
    progress.close();
  }
}
