/**
 * command: upgrade. Applies the spec (new launch template versions: Kubernetes version, image,
 * instance type), then rolls the masters one at a time (a new one joins before an old one leaves)
 * and the workers onto them. Resumable: running it again continues an upgrade in progress. The
 * whole step is bounded by timeout-minutes.
 */

import { mdFence } from '../text/escape.js';
import { upgradeSucceeded } from '../upgrade/run.js';
import { applySpec } from './apply.js';
import { ActionError } from './errors.js';
import type { CommandRun } from './runner.js';
import { withTimeout } from './timeout.js';

export async function upgradeCommand(run: CommandRun): Promise<void> {
  const { runner, engine, spec, inputs } = run;
  const deadline = Date.now() + inputs.timeoutMinutes * 60_000;
  // abort goes back to the recorded launch template versions: nothing is applied first.
  const plan = inputs.abort ? undefined : await applySpec(run, inputs.timeoutMinutes);
  if (plan?.hasChanges) runner.info(`Applied ${plan.changesCount} change(s); now replacing instances.`);

  const minutesLeft = Math.max(0.001, (deadline - Date.now()) / 60_000);
  let last = '';
  runner.startGroup(
    inputs.abort
      ? `Abort the upgrade of ${spec.name}`
      : `Upgrade ${spec.name} to Kubernetes ${spec.kubernetesVersion}`,
  );
  let outcome: Awaited<ReturnType<typeof engine.upgrade>>;
  try {
    outcome = await withTimeout(
      'upgrade',
      // A little later than the upgrade's own bound, so its cleaner "timed-out" outcome wins.
      minutesLeft + 0.5,
      () => last,
      (signal) =>
        engine.upgrade(spec, {
          timeoutMs: minutesLeft * 60_000,
          abort: inputs.abort,
          signal,
          onProgress: (line) => {
            last = line;
            runner.info(line);
          },
        }),
    );
  } catch (e) {
    if (e instanceof ActionError) throw e;
    throw new ActionError(`upgrade failed${last ? ` (at ${last})` : ''}: ${(e as Error).message}`, {
      cause: e,
    });
  } finally {
    runner.endGroup();
  }

  const ok = upgradeSucceeded(outcome);
  await runner.summary(
    [
      `## tripod upgrade: \`${spec.name}\` to Kubernetes ${spec.kubernetesVersion}`,
      '',
      `${ok ? ':white_check_mark:' : ':x:'} **${outcome.result}**${outcome.paused ? ' (paused)' : ''} after ${Math.round(outcome.elapsedMs / 1000)} s`,
      '',
      mdFence(outcome.message),
      ...(outcome.replacements.length ? ['', '### Replaced instances', '', outcome.table] : []),
      '',
    ].join('\n'),
  );
  if (!ok) {
    const again =
      outcome.result === 'timed-out' || outcome.result === 'interrupted'
        ? ' Run upgrade again to resume where it stopped.'
        : '';
    throw new ActionError(
      `upgrade ${outcome.result}${outcome.paused ? ' while paused' : ''}: ${outcome.message}${again}`,
    );
  }
  runner.info(`upgrade ${outcome.result}: ${outcome.message}`);
}
