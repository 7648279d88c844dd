import { loadSpecFile } from '../spec/file.js';
import { formatProblem } from '../spec/load.js';
import { deriveTopology } from '../spec/topology.js';
import { topologyJson, topologyMermaid, topologyTable } from '../spec/topology-render.js';
import { type Command, choice } from './command.js';

export const validateCommand: Command = {
  name: 'validate',
  summary: 'check cluster.yaml and print the topology it describes',
  help: `Usage: tripod validate [-f cluster.yaml] [--format table|mermaid|json]

Checks the spec and prints the topology: masters per zone, quorum, and whether the
cluster survives the loss of each zone. Every problem is reported as FILE:LINE:COL field: message.

Options:
  -f, --file PATH      the spec (default: cluster.yaml)
      --format FORMAT  table (default), mermaid or json
  -h, --help           this help

Exit codes: 0 valid, 1 invalid spec, 2 usage error.`,
  options: {
    file: { type: 'string', short: 'f', default: 'cluster.yaml' },
    format: { type: 'string', default: 'table' },
  },
  async run(values, _positionals, io) {
    const format = choice(values.format, ['table', 'mermaid', 'json'] as const, 'format');
    const file = String(values.file);
    const result = loadSpecFile(file);
    if (!result.ok) {
      if (format === 'json') io.out(JSON.stringify({ valid: false, problems: result.problems }, null, 2));
      else {
        io.err(result.problems.map(formatProblem).join('\n'));
        io.err(`${file}: ${result.problems.length} problem${result.problems.length === 1 ? '' : 's'}`);
      }
      return 1;
    }
    const topology = deriveTopology(result.spec);
    if (format === 'json') io.out(JSON.stringify({ valid: true, ...topologyJson(topology) }, null, 2));
    else if (format === 'mermaid') io.out(topologyMermaid(topology));
    else io.out(`${file} is valid.\n\n${topologyTable(topology)}`);
    return 0;
  },
};
