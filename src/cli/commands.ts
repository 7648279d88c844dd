/** Every `tripod` command, in the order `tripod --help` lists them. Later layers add theirs here. */
import { applyCommand } from './apply.js';
import { backupsCommand } from './backups.js';
import type { CommandDef } from './command.js';
import { destroyCommand } from './destroy.js';
import { kubeconfigCommand } from './kubeconfig.js';
import { planCommand } from './plan.js';
import { restoreCommand } from './restore.js';
import { sandboxCommand } from './sandbox.js';
import { simulateCommand } from './simulate.js';
import { statusCommand } from './status.js';
import { upgradeCommand } from './upgrade.js';
import { validateCommand } from './validate.js';

export const commands: CommandDef[] = [
  validateCommand,
  planCommand,
  applyCommand,
  upgradeCommand,
  destroyCommand,
  simulateCommand,
  sandboxCommand,
  backupsCommand,
  restoreCommand,
  kubeconfigCommand,
  statusCommand,
];
