/** The action's entry point (bundled to dist/action/index.js, run by the runner on node24). */
import { createAwsEngine } from './engine-aws.js';
import { run } from './main.js';

await run((region) => createAwsEngine(region));
