/**
 * The reconciler's ParameterPort: Parameter Store reads and writes (heal-ports.ts) plus who last wrote
 * each parameter under a path (DescribeParameters' LastModifiedUser), which decides whether a node's
 * signal counts (contract/protocol.ts signalWriterProblem).
 */
import { DescribeParametersCommand, type SSMClient } from '@aws-sdk/client-ssm';
import type { ParameterPort } from '../../heal/ports.js';
import { createParameterPort } from './heal-ports.js';

export function createSignalParameterPort(ssm: SSMClient): ParameterPort {
  return {
    ...createParameterPort(ssm),
    async writers(path) {
      // DescribeParameters' Path filter takes the path without a trailing slash; Recursive as getByPath.
      const out: Record<string, string | undefined> = {};
      let token: string | undefined;
      do {
        const r = await ssm.send(
          new DescribeParametersCommand({
            ParameterFilters: [{ Key: 'Path', Option: 'Recursive', Values: [path.replace(/\/+$/, '')] }],
            NextToken: token,
          }),
        );
        for (const p of r.Parameters ?? []) if (p.Name) out[p.Name] = p.LastModifiedUser;
        token = r.NextToken;
      } while (token);
      return out;
    },
  };
}
