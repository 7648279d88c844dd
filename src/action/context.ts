/** What the action knows about the run it is in: event, repository, pull request, API URL. */
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';

export interface RunContext {
  eventName: string;
  /** `owner/name`. */
  repository: string;
  apiUrl: string;
  serverUrl: string;
  runId: string;
  sha: string;
  /** The pull request number when the event carries one. */
  pullRequest: number | undefined;
  /** The PR head commit, when known (what the plan was made for). */
  headSha: string | undefined;
  /** Link to this run's page (where the job summary is). */
  runUrl: string | undefined;
  /** A directory for files the workflow picks up after the step (RUNNER_TEMP, else the OS's). */
  tempDir: string;
  /** The head repository of a pull request from a fork (`owner/name`), else undefined. */
  forkRepository: string | undefined;
}

interface EventPayload {
  pull_request?: { number?: number; head?: { sha?: string; repo?: { full_name?: string } | null } };
  number?: number;
}

export function readRunContext(env: NodeJS.ProcessEnv = process.env): RunContext {
  let payload: EventPayload = {};
  const path = env.GITHUB_EVENT_PATH;
  if (path) {
    try {
      payload = JSON.parse(readFileSync(path, 'utf8')) as EventPayload;
    } catch (e) {
      throw new Error(`cannot read the event payload GITHUB_EVENT_PATH=${path}: ${(e as Error).message}`);
    }
  }
  const repository = env.GITHUB_REPOSITORY ?? '';
  const serverUrl = (env.GITHUB_SERVER_URL ?? 'https://github.com').replace(/\/+$/, '');
  const runId = env.GITHUB_RUN_ID ?? '';
  return {
    eventName: env.GITHUB_EVENT_NAME ?? '',
    repository,
    apiUrl: (env.GITHUB_API_URL ?? 'https://api.github.com').replace(/\/+$/, ''),
    serverUrl,
    runId,
    sha: env.GITHUB_SHA ?? '',
    pullRequest: payload.pull_request?.number ?? undefined,
    headSha: payload.pull_request?.head?.sha,
    runUrl: repository && runId ? `${serverUrl}/${repository}/actions/runs/${runId}` : undefined,
    tempDir: env.RUNNER_TEMP || tmpdir(),
    forkRepository: forkOf(payload, repository),
  };
}

/** The head repository of a pull request opened from a fork (it gets no OIDC token and no secrets). */
function forkOf(payload: EventPayload, repository: string): string | undefined {
  const head = payload.pull_request?.head?.repo?.full_name;
  // A deleted fork has no head repository (null): still a fork, not this repository.
  if (payload.pull_request && payload.pull_request.head?.repo === null) return '(deleted fork)';
  return head && repository && head.toLowerCase() !== repository.toLowerCase() ? head : undefined;
}
