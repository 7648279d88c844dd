/** command: upgrade. The rolling-upgrade engine does not exist yet: fail clearly, change nothing. */
import { ActionError } from './errors.js';
import type { CommandRun } from './runner.js';

export async function upgradeCommand(run: CommandRun): Promise<void> {
  throw new ActionError(
    `command upgrade is not yet implemented in this version of tripod: nothing was changed on ${run.spec.name}. ` +
      'Rolling upgrades (one master at a time, leader moved away first) are tracked as their own issue.',
  );
}
