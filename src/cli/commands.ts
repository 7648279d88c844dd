/** Every `tripod` command, in the order `tripod --help` lists them. Later layers add theirs here. */
import { backupsCommand } from './backups.js';
import type { Command } from './command.js';
import { restoreCommand } from './restore.js';
import { simulateCommand } from './simulate.js';
import { validateCommand } from './validate.js';

export const commands: Command[] = [validateCommand, simulateCommand, backupsCommand, restoreCommand];
