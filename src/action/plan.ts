/** command: plan. Never changes anything. "No changes" is a success; on pull requests the plan is also ONE comment, edited in place. */
import { GitHubComments } from '../adapters/github/comments.js';
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
}

/** Plans (shared with apply): the full plan in its own log group, then the headline. */
export async function makePlan(run: CommandRun): Promise<PlanView> {
  const { runner, engine, spec } = run;
  runner.startGroup(`Plan for ${spec.name} in ${spec.region}`);
  const plan = await engine.plan(spec);
  runner.info(plan.text);
  runner.endGroup();
  runner.info(planHeadline(plan).replace(/\*\*/g, ''));
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
  const comments = new GitHubComments({
    apiUrl: context.apiUrl,
    repository: context.repository,
    token: inputs.githubToken,
  });
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
