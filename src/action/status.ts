/** command: status. Reports masters, targets, etcd members and the last reconcile; fails when quorum or zone-loss survival is lost. */
import { ActionError } from './errors.js';
import type { CommandRun } from './runner.js';
import { assessStatus, statusReport } from './status-report.js';

export async function statusCommand(run: CommandRun): Promise<void> {
  const { runner, engine, spec } = run;
  const status = await engine.status(spec);
  const assessment = assessStatus(status, run.topology);
  await runner.summary(statusReport(status, assessment));
  const endpoints = await engine.endpoints(spec);
  runner.setOutput('api-endpoint', endpoints.api ?? '');
  runner.setOutput('service-endpoint', endpoints.service ?? '');
  for (const w of assessment.warnings) runner.warning(w);
  if (assessment.problems.length) throw new ActionError(`${spec.name}: ${assessment.problems.join('; ')}`);
  runner.info(
    `${spec.name}: ${assessment.healthyVoters} of ${status.expectedMasters} etcd voters healthy, quorum ${status.quorum}; survives any zone loss: ${assessment.zones.every((z) => z.survivesLoss) ? 'yes' : 'no'}`,
  );
}
