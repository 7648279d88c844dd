/** tripod's version: package.json's, bundled into dist/ at build time (the CLI's --version, the Action's first log line). */
import pkg from '../package.json' with { type: 'json' };

export const VERSION: string = pkg.version;
