/**
 * Pull-request comments through the GitHub REST API, with @actions/github's Octokit and the retry
 * (5xx, network) and throttling (primary and secondary rate limits) plugins: list (paginated by
 * Octokit), create, update, and "upsert by hidden marker" so a plan comment is edited in place on
 * every push. Only a comment the token's own identity wrote is ever edited: a comment someone else
 * wrote with the same marker (copied, quoted, or planted) is left alone and ours is written anew.
 */
import { getOctokit } from '@actions/github';
import { retry } from '@octokit/plugin-retry';
import { throttling } from '@octokit/plugin-throttling';

export interface GitHubTarget {
  /** e.g. https://api.github.com or https://ghe.example.com/api/v3 (GITHUB_API_URL). */
  apiUrl: string;
  /** `owner/name` (GITHUB_REPOSITORY). */
  repository: string;
  token: string;
}

export interface IssueComment {
  id: number;
  body: string;
  htmlUrl: string;
  /** Login of the comment's author. */
  author: string;
}

export interface GitHubClientOptions {
  /** Retries of a failed request (5xx, network errors; rate limits are the throttling plugin's). Default 3. */
  retries?: number;
  /** Base of the retry back-off in ms (retry n waits n² times this). Default 1000. */
  retryBaseMs?: number;
  /** Where rate-limit notices go (default: nowhere). */
  log?: (message: string) => void;
}

/**
 * The identity GITHUB_TOKEN acts as. Its installation token may not read GET /user ("Resource not
 * accessible by integration"), so this is the answer when that call is refused.
 */
export const GITHUB_ACTIONS_BOT = 'github-actions[bot]';

export class GitHubApiError extends Error {
  override name = 'GitHubApiError';
  constructor(
    readonly status: number,
    readonly operation: string,
    detail: string,
  ) {
    super(`GitHub API: ${operation} failed with HTTP ${status}: ${detail}${hintFor(status)}`);
  }
}

function hintFor(status: number): string {
  if (status === 401) return ' (the github-token input is missing or invalid)';
  if (status === 403 || status === 404)
    return ' (give the workflow `permissions: pull-requests: write`, or set comment-on-pr: false)';
  return '';
}

interface RawComment {
  id: number;
  body?: string | null;
  html_url?: string;
  user?: { login?: string } | null;
}

const toComment = (c: RawComment): IssueComment => ({
  id: c.id,
  body: c.body ?? '',
  htmlUrl: c.html_url ?? '',
  author: c.user?.login ?? '',
});

/** Octokit's RequestError (status + message) as our error, naming the operation. */
function asApiError(operation: string, e: unknown): unknown {
  const err = e as { status?: unknown; message?: string; response?: { data?: { message?: string } } };
  if (typeof err?.status !== 'number') return e;
  const detail = err.response?.data?.message ?? err.message ?? 'no detail';
  return new GitHubApiError(err.status, operation, detail);
}

/** An Octokit for `target`, with retries and rate-limit handling (at most two waits per request). */
export function createOctokit(
  target: Pick<GitHubTarget, 'apiUrl' | 'token'>,
  options: GitHubClientOptions = {},
) {
  const log = options.log ?? (() => {});
  const retryBase = options.retryBaseMs ?? 1000;
  return getOctokit(
    target.token,
    {
      baseUrl: target.apiUrl.replace(/\/+$/, ''),
      userAgent: 'tripod-action',
      retry: { retries: options.retries ?? 3, retryAfterBaseValue: retryBase },
      throttle: {
        retryAfterBaseValue: retryBase,
        onRateLimit: (after: number, o: { method: string; url: string }, _k: unknown, count: number) => {
          log(
            `GitHub rate limit on ${o.method} ${o.url}: ${count < 2 ? `retrying after ${after} s` : 'giving up'}`,
          );
          return count < 2;
        },
        onSecondaryRateLimit: (
          after: number,
          o: { method: string; url: string },
          _k: unknown,
          count: number,
        ) => {
          log(
            `GitHub secondary rate limit on ${o.method} ${o.url}: ${count < 2 ? `retrying after ${after} s` : 'giving up'}`,
          );
          return count < 2;
        },
      },
    },
    retry,
    throttling,
  );
}

export class GitHubComments {
  private readonly octokit: ReturnType<typeof createOctokit>;
  private readonly owner: string;
  private readonly repo: string;
  private identity: Promise<string> | undefined;

  constructor(target: GitHubTarget, options: GitHubClientOptions = {}) {
    const [owner, repo, ...rest] = target.repository.split('/');
    if (!owner || !repo || rest.length)
      throw new Error(`GITHUB_REPOSITORY must be owner/name (got "${target.repository}")`);
    this.owner = owner;
    this.repo = repo;
    this.octokit = createOctokit(target, options);
  }

  /**
   * The login the token writes comments as: GET /user for a user's token; GITHUB_TOKEN (an app
   * installation token, which may not read /user) writes as github-actions[bot].
   */
  whoAmI(): Promise<string> {
    this.identity ??= this.octokit.rest.users.getAuthenticated().then(
      (r) => r.data.login,
      (e: unknown) => {
        if ((e as { status?: number }).status === 403) return GITHUB_ACTIONS_BOT;
        this.identity = undefined;
        throw asApiError('read the token identity (GET /user)', e);
      },
    );
    return this.identity;
  }

  /** Every comment on an issue or pull request (Octokit follows the pages). */
  async list(issueNumber: number): Promise<IssueComment[]> {
    try {
      const items = await this.octokit.paginate(this.octokit.rest.issues.listComments, {
        owner: this.owner,
        repo: this.repo,
        issue_number: issueNumber,
        per_page: 100,
      });
      return (items as RawComment[]).map(toComment);
    } catch (e) {
      throw asApiError('list comments', e);
    }
  }

  async create(issueNumber: number, body: string): Promise<IssueComment> {
    try {
      const r = await this.octokit.rest.issues.createComment({
        owner: this.owner,
        repo: this.repo,
        issue_number: issueNumber,
        body,
      });
      return toComment(r.data as RawComment);
    } catch (e) {
      throw asApiError('create comment', e);
    }
  }

  async update(commentId: number, body: string): Promise<IssueComment> {
    try {
      const r = await this.octokit.rest.issues.updateComment({
        owner: this.owner,
        repo: this.repo,
        comment_id: commentId,
        body,
      });
      return toComment(r.data as RawComment);
    } catch (e) {
      throw asApiError('update comment', e);
    }
  }

  /**
   * Edits the one comment holding `marker` that this token's identity wrote (the first, if a race
   * ever made two), or creates it. Comments by anyone else are never edited, marker or not.
   * `body` must contain the marker, or the next run would not find the comment again.
   */
  async upsert(
    issueNumber: number,
    marker: string,
    body: string,
  ): Promise<{ action: 'created' | 'updated'; comment: IssueComment }> {
    if (!body.includes(marker)) throw new Error(`comment body lacks its marker ${marker}`);
    const [me, comments] = await Promise.all([this.whoAmI(), this.list(issueNumber)]);
    const existing = comments.find((c) => c.author === me && c.body.includes(marker));
    if (existing) return { action: 'updated', comment: await this.update(existing.id, body) };
    return { action: 'created', comment: await this.create(issueNumber, body) };
  }
}
