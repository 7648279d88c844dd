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
  await runGrouped(runner, 'destroy', inputs.timeoutMinutes, (signal, onProgress) =>
    engine.destroy(spec, { signal, onProgress }),
  );
  await runner.summary(
    `## tripod destroy: \`${spec.name}\` in ${spec.region}\n\nDeleted every resource of the cluster.\n`,
  );
  runner.info(`Destroyed ${spec.name}.`);
}
