/**
 * command: plan. Never changes anything. "No changes" is a success; on pull requests the plan is also
 * ONE comment, edited in place. The plan is saved (plan-file output: JSON with the spec's and
 * what-it-read hashes) for the workflow to keep as an artifact: apply on main takes it as approved-plan.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { GitHubComments } from '../adapters/github/comments.js';
import { savedPlanText } from '../provision/saved-plan.js';
import { commentBody, commentMarker, JOB_SUMMARY_LIMIT, trimMarkdown } from './comment.js';
import type { Endpoints, PlanView } from './engine.js';
import { planHeadline, planReport } from './plan-report.js';
import type { CommandRun } from './runner.js';

/** Sets the plan outputs (shared with apply). */
export function setPlanOutputs(run: CommandRun, plan: PlanView, endpoints: Endpoints): void {
  run.runner.setOutput('has-changes', String(plan.hasChanges));
  run.runner.setOutput('changes-count', String(plan.changesCount));
  run.runner.setOutput('plan-json', JSON.stringify(plan.json));
  run.runner.setOutput('api-endpoint', endpoints.api ?? '');
  run.runner.setOutput('service-endpoint', endpoints.service ?? '');
  if (plan.saved) {
    run.runner.setOutput('spec-hash', plan.saved.specHash);
    run.runner.setOutput('observed-hash', plan.saved.observedHash);
  }
}

/** Writes the saved plan (with the commit it was made for) where the workflow can upload it; returns the path. */
export function writeSavedPlan(run: CommandRun, plan: PlanView): string | undefined {
  if (!plan.saved) return undefined;
  const { context, inputs, spec } = run;
  const commit = context.headSha ?? context.sha;
  const saved = { ...plan.saved, ...(commit ? { commit } : {}) };
  const path = inputs.planFile ?? join(context.tempDir, 'tripod', `plan-${spec.name}.json`);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, savedPlanText(saved));
  run.runner.setOutput('plan-file', path);
  run.runner.info(`Saved plan: ${path} (spec ${saved.specHash}, read ${saved.observedHash})`);
  return path;
}

/** Plans (shared with apply): the full plan in its own log group, then the headline. */
export async function makePlan(run: CommandRun): Promise<PlanView> {
  const { runner, engine, spec } = run;
  runner.startGroup(`Plan for ${spec.name} in ${spec.region}`);
  const plan = await engine.plan(spec);
  runner.info(plan.text);
  runner.endGroup();
  runner.info(planHeadline(plan).replace(/\*\*/g, ''));
  // Outside the folded group, as annotations: no HA, a zone loss not survived, an API open to the internet.
  for (const w of run.topology.warnings) runner.warning(w);
  return plan;
}

export async function planCommand(run: CommandRun): Promise<void> {
  const { runner, engine, spec, inputs, context } = run;
  const plan = await makePlan(run);

  const report = planReport({
    topology: run.topology,
    plan,
    specPath: inputs.spec,
    sha: context.headSha ?? context.sha,
  });
  await runner.summary(
    trimMarkdown(
      report,
      JOB_SUMMARY_LIMIT,
      'The full plan is in the log of this step (group "Plan for ...").',
    ),
  );
  setPlanOutputs(run, plan, await engine.endpoints(spec));
  writeSavedPlan(run, plan);

  if (!inputs.commentOnPr) return;
  if (context.pullRequest === undefined) {
    runner.info(`comment-on-pr: no pull request in this ${context.eventName || 'unknown'} event, no comment`);
    return;
  }
  if (!inputs.githubToken) {
    runner.warning(
      'comment-on-pr is on but github-token is empty: no comment (the plan is in the job summary)',
    );
    return;
  }
  const comments = new GitHubComments(
    { apiUrl: context.apiUrl, repository: context.repository, token: inputs.githubToken },
    { log: (m) => runner.info(m) },
  );
  try {
    const { action, comment } = await comments.upsert(
      context.pullRequest,
      commentMarker(spec.name),
      commentBody(spec.name, report, context.runUrl),
    );
    runner.info(`Plan comment ${action} on #${context.pullRequest}: ${comment.htmlUrl}`);
  } catch (e) {
    // The plan itself succeeded; a comment that cannot be posted is worth a warning, not a red build.
    runner.warning(`could not comment on pull request #${context.pullRequest}: ${(e as Error).message}`);
  }
}
