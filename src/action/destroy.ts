/** command: destroy. Only when confirm-destroy repeats the cluster name exactly. */
import { ActionError } from './errors.js';
import { type CommandRun, groupedProgress } from './runner.js';
import { withTimeout } from './timeout.js';

export async function destroyCommand(run: CommandRun): Promise<void> {
  const { runner, engine, spec, inputs } = run;
  if (inputs.confirmDestroy !== spec.name) {
    throw new ActionError(
      `destroy refused: set confirm-destroy to the cluster name "${spec.name}" to delete it` +
        (inputs.confirmDestroy ? ` (got "${inputs.confirmDestroy}")` : ' (it is empty)') +
        '. Nothing was changed.',
    );
  }
  const progress = groupedProgress(runner);
  try {
    await withTimeout(
      'destroy',
      inputs.timeoutMinutes,
      () => progress.last,
      (signal) => engine.destroy(spec, { signal, onProgress: progress.onProgress }),
    );
  } catch (e) {
    progress.close();
    if (e instanceof ActionError) throw e;
    const at = progress.last && (e as Error).name !== 'ProvisionError' ? ` (at ${progress.last})` : '';
    throw new ActionError(`destroy failed${at}: ${(e as Error).message}`, { cause: e });
  }
  progress.close();
  await runner.summary(
    `## tripod destroy: \`${spec.name}\` in ${spec.region}\n\nDeleted every resource of the cluster.\n`,
  );
  runner.info(`Destroyed ${spec.name}.`);
}
