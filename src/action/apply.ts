/** command: apply. Plans, refuses destructive changes unless allowed, applies with grouped progress, bounded by timeout-minutes. */

import { mdCode } from '../text/escape.js';
import type { PlanView } from './engine.js';
import { ActionError } from './errors.js';
import { makePlan, setPlanOutputs } from './plan.js';
import { planReport } from './plan-report.js';
import { type CommandRun, runGrouped } from './runner.js';

/**
 * Plans and applies (shared by apply and upgrade), within `minutes`. Refuses conflicts, and
 * destructive changes unless allow-destructive, before touching anything.
 */
export async function applySpec(run: CommandRun, minutes: number): Promise<PlanView> {
  const { runner, engine, spec, inputs } = run;
  const plan = await makePlan(run);

  if (plan.conflicts.length) {
    await runner.summary(
      planReport({ topology: run.topology, plan, specPath: inputs.spec, title: 'apply (refused)' }),
    );
    throw new ActionError(
      `apply refused: ${plan.conflicts.length} resource(s) in the way that tripod does not own:\n` +
        plan.conflicts.map((c) => `  - ${c}`).join('\n') +
        '\nNothing was changed.',
    );
  }
  if (plan.destructive.length && !inputs.allowDestructive) {
    await runner.summary(
      planReport({ topology: run.topology, plan, specPath: inputs.spec, title: 'apply (refused)' }),
    );
    throw new ActionError(
      `apply refused: ${plan.destructive.length} change(s) replace or delete resources and allow-destructive is false:\n` +
        plan.destructive.map((d) => `  - ${d}`).join('\n') +
        '\nNothing was changed. Review them, then set allow-destructive: true for this run.',
    );
  }

  if (plan.hasChanges) {
    await runGrouped(runner, 'apply', minutes, (signal, onProgress) =>
      engine.apply(spec, plan, { allowDestructive: inputs.allowDestructive, signal, onProgress }),
    );
  }
  return plan;
}

export async function applyCommand(run: CommandRun): Promise<void> {
  const { runner, engine, spec, inputs, context } = run;
  const plan = await applySpec(run, inputs.timeoutMinutes);
  const after = await engine.endpoints(spec);
  await runner.summary(
    planReport({
      topology: run.topology,
      plan,
      specPath: inputs.spec,
      sha: context.sha,
      title: plan.hasChanges ? 'apply (done)' : 'apply',
    }) + (after.api ? `\nKubernetes API: ${mdCode(`${after.api}:6443`)}\n` : ''),
  );
  setPlanOutputs(run, plan, after);
  runner.info(plan.hasChanges ? `Applied ${plan.changesCount} change(s).` : 'Nothing to apply.');
}
