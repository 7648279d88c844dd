/** command: apply. Plans, refuses destructive changes unless allowed, applies with grouped progress, bounded by timeout-minutes. */

import { readFileSync } from 'node:fs';
import { approvedPlanCheck, parseSavedPlan, SavedPlanError } from '../provision/saved-plan.js';
import { mdCode, mdFence } from '../text/escape.js';
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
  if (inputs.approvedPlan) await checkApprovedPlan(run, plan, inputs.approvedPlan);

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

/**
 * Compares the fresh plan with the approved one (approved-plan): the same spec and the same changes,
 * or a refusal that shows the difference (unless allow-plan-drift). Nothing is touched before.
 */
async function checkApprovedPlan(run: CommandRun, plan: PlanView, file: string): Promise<void> {
  const { runner, inputs } = run;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ActionError(
      `approved-plan: cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}): download the plan artifact of the reviewed pull request there first. Nothing was changed.`,
    );
  }
  if (!plan.saved) throw new Error('internal: the engine made a plan without its saved form');
  let verdict: ReturnType<typeof approvedPlanCheck>;
  try {
    const approved = parseSavedPlan(text, file);
    verdict = approvedPlanCheck(approved, plan.saved, { allowDrift: inputs.allowPlanDrift, file });
  } catch (e) {
    if (e instanceof SavedPlanError)
      throw new ActionError(`approved-plan: ${e.message}. Nothing was changed.`);
    throw e;
  }
  const shown = verdict.differences.join('\n');
  if (!verdict.ok) {
    await runner.summary(
      `## tripod apply refused: not the approved plan\n\n${mdFence(shown, 'text')}\n` +
        planReport({ topology: run.topology, plan, specPath: inputs.spec, title: 'apply (refused)' }),
    );
    throw new ActionError(`${verdict.message}\nDifference:\n${shown}`);
  }
  if (verdict.differences.length) {
    runner.warning(`${verdict.message}:\n${shown}`);
    await runner.summary(`## tripod apply: plan drift allowed\n\n${mdFence(shown, 'text')}\n`);
  } else runner.info(verdict.message);
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
