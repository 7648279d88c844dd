/** The node scripts name the same SSM parameters as the TypeScript side that reads or writes them. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { restoreParameter } from '../../src/contract/protocol.js';
import { workerDrainedParameter } from '../../src/heal/worker-hooks.js';

const script = (name: string) => readFileSync(`src/bootstrap/scripts/${name}`, 'utf8');

describe('node scripts and the reconciler agree on parameter names', () => {
  it('the seed reads the restore record where tripod restore writes it', () => {
    expect(script('master.sh')).toContain(`ssm_get "${restoreParameter('$TRIPOD_CLUSTER')}"`);
  });

  it('a drained worker writes the signal the reconciler waits for', () => {
    expect(script('worker.sh')).toContain(
      `--name "${workerDrainedParameter('$TRIPOD_CLUSTER', '$INSTANCE_ID')}"`,
    );
  });
});
