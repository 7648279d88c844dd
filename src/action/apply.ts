/** command: apply. Plans, refuses destructive changes unless allowed, applies with grouped progress, bounded by timeout-minutes. */
import type { PlanView } from './engine.js';
import { ActionError } from './errors.js';
import { setPlanOutputs } from './plan.js';
import { planHeadline, planReport } from './plan-report.js';
import { type CommandRun, groupedProgress } from './runner.js';
import { withTimeout } from './timeout.js';

/**
 * Plans and applies (shared by apply and upgrade), within `minutes`. Refuses conflicts, and
 * destructive changes unless allow-destructive, before touching anything.
 */
export async function applySpec(run: CommandRun, minutes: number): Promise<PlanView> {
  const { runner, engine, spec, inputs } = run;
  runner.startGroup(`Plan for ${spec.name} in ${spec.region}`);
  const plan = await engine.plan(spec);
  runner.info(plan.text);
  runner.endGroup();
  runner.info(planHeadline(plan).replace(/\*\*/g, ''));

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
    const progress = groupedProgress(runner);
    try {
      await withTimeout(
        'apply',
        minutes,
        () => progress.last,
        (signal) =>
          engine.apply(spec, plan, {
            allowDestructive: inputs.allowDestructive,
            signal,
            onProgress: progress.onProgress,
          }),
      );
    } catch (e) {
      progress.close();
      if (e instanceof ActionError) throw e;
      // The provisioner's own errors already name the step; others get the last step seen.
      const at = progress.last && (e as Error).name !== 'ProvisionError' ? ` (at ${progress.last})` : '';
      throw new ActionError(`apply failed${at}: ${(e as Error).message}`, { cause: e });
    }
    progress.close();
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
    }) + (after.api ? `\nKubernetes API: \`${after.api}:6443\`\n` : ''),
  );
  setPlanOutputs(run, plan, after);
  runner.info(plan.hasChanges ? `Applied ${plan.changesCount} change(s).` : 'Nothing to apply.');
}
