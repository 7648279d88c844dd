import { loadSpecFile } from '../cluster-spec/file.js';
import { formatProblem } from '../cluster-spec/load.js';
import { deriveTopology } from '../cluster-spec/topology.js';
import {
  topologyJson,
  topologyMarkdown,
  topologyMermaid,
  topologyTable,
} from '../cluster-spec/topology-render.js';
import { type CommandDef, choice, jsonDocument } from './command.js';
import { fileAlias, formatOption, specArgument, specOption } from './options.js';

const FORMATS = ['text', 'json', 'markdown', 'mermaid'] as const;

export const validateCommand: CommandDef = {
  name: 'validate',
  summary: 'check cluster.yaml and print the topology it describes',
  description: `Checks the spec and prints the topology: masters per zone, quorum, and whether the
cluster survives the loss of each zone. Every problem is reported as FILE:LINE:COL field: message.
--format mermaid prints the topology as a Mermaid flowchart.`,
  argument: specArgument,
  options: [specOption, formatOption(FORMATS, { table: 'text' }), fileAlias],
  footer: 'Exit codes: 0 valid, 1 invalid spec, 64 usage error.',
  async run(values, io) {
    const format = choice(values.format, FORMATS, 'format');
    const file = String(values.spec);
    const result = loadSpecFile(file);
    if (!result.ok) {
      if (format === 'json') io.out(jsonDocument({ valid: false, problems: result.problems }));
      else {
        io.err(result.problems.map(formatProblem).join('\n'));
        io.err(`${file}: ${result.problems.length} problem${result.problems.length === 1 ? '' : 's'}`);
      }
      return 1;
    }
    const topology = deriveTopology(result.spec);
    if (format === 'json') io.out(jsonDocument({ valid: true, ...topologyJson(topology) }));
    else if (format === 'mermaid') io.out(topologyMermaid(topology));
    else if (format === 'markdown') io.out(topologyMarkdown(topology));
    else io.out(`${file} is valid.\n\n${topologyTable(topology)}`);
    return 0;
  },
};
