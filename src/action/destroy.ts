/** command: destroy. Only when confirm-destroy repeats the cluster name exactly. */
import { ActionError } from './errors.js';
import { type CommandRun, runGrouped } from './runner.js';

export async function destroyCommand(run: CommandRun): Promise<void> {
  const { runner, engine, spec, inputs } = run;
  if (inputs.confirmDestroy !== spec.name) {
    throw new ActionError(
      `destroy refused: set confirm-destroy to the cluster name "${spec.name}" to delete it` +
        (inputs.confirmDestroy ? ` (got "${inputs.confirmDestroy}")` : ' (it is empty)') +
        '. Nothing was changed.',
    );
  }
  // Waits on lingering network interfaces end a minute before timeout-minutes, so destroy stops
  // with "run it again" (it is idempotent) instead of being cut off mid-wait.
  const deadline = Date.now() + Math.max(inputs.timeoutMinutes - 1, 0.5) * 60_000;
  await runGrouped(runner, 'destroy', inputs.timeoutMinutes, (signal, onProgress) =>
    engine.destroy(spec, { signal, onProgress, deadline }),
  );
  await runner.summary(
    `## tripod destroy: \`${spec.name}\` in ${spec.region}\n\nDeleted every resource of the cluster, and every parameter under \`/tripod/${spec.name}/\`: its CAs, Secrets encryption key, tokens and records included (a new cluster of this name starts with new ones). The backup bucket and its snapshots are kept.\n`,
  );
  runner.info(`Destroyed ${spec.name}.`);
}
