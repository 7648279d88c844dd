/**
 * Pull-request comments through the GitHub REST API (plain fetch, no Octokit): list (paginated),
 * create, update, and "upsert by hidden marker" so a plan comment is edited in place on every push.
 */

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

/** The `rel="next"` URL of a Link header, if any. */
export function nextPageUrl(link: string | null): string | undefined {
  if (!link) return undefined;
  for (const part of link.split(',')) {
    const m = /<([^>]+)>\s*;\s*rel="?next"?/.exec(part.trim());
    if (m) return m[1];
  }
  return undefined;
}

export class GitHubComments {
  private readonly base: string;

  constructor(
    private readonly target: GitHubTarget,
    private readonly fetchImpl: typeof fetch = fetch,
  ) {
    this.base = target.apiUrl.replace(/\/+$/, '');
  }

  private async call(operation: string, url: string, init: RequestInit = {}): Promise<Response> {
    const res = await this.fetchImpl(url, {
      ...init,
      headers: {
        accept: 'application/vnd.github+json',
        authorization: `Bearer ${this.target.token}`,
        'x-github-api-version': '2022-11-28',
        'user-agent': 'tripod-action',
        ...(init.body ? { 'content-type': 'application/json' } : {}),
      },
    });
    if (!res.ok) {
      let detail = res.statusText;
      try {
        const body = (await res.json()) as { message?: string };
        if (body.message) detail = body.message;
      } catch {
        /* not JSON */
      }
      throw new GitHubApiError(res.status, operation, detail);
    }
    return res;
  }

  /** Every comment on an issue or pull request, following the Link header page by page. */
  async list(issueNumber: number): Promise<IssueComment[]> {
    const out: IssueComment[] = [];
    let url: string | undefined =
      `${this.base}/repos/${this.target.repository}/issues/${issueNumber}/comments?per_page=100`;
    for (let page = 0; url && page < 1000; page++) {
      const res: Response = await this.call('list comments', url);
      const items = (await res.json()) as RawComment[];
      out.push(...items.map(toComment));
      url = nextPageUrl(res.headers.get('link'));
    }
    return out;
  }

  async create(issueNumber: number, body: string): Promise<IssueComment> {
    const res = await this.call(
      'create comment',
      `${this.base}/repos/${this.target.repository}/issues/${issueNumber}/comments`,
      { method: 'POST', body: JSON.stringify({ body }) },
    );
    return toComment((await res.json()) as RawComment);
  }

  async update(commentId: number, body: string): Promise<IssueComment> {
    const res = await this.call(
      'update comment',
      `${this.base}/repos/${this.target.repository}/issues/comments/${commentId}`,
      { method: 'PATCH', body: JSON.stringify({ body }) },
    );
    return toComment((await res.json()) as RawComment);
  }

  /**
   * Edits the one comment holding `marker` (the first, if a race ever made two), or creates it.
   * `body` must contain the marker, or the next run would not find the comment again.
   */
  async upsert(
    issueNumber: number,
    marker: string,
    body: string,
  ): Promise<{ action: 'created' | 'updated'; comment: IssueComment }> {
    if (!body.includes(marker)) throw new Error(`comment body lacks its marker ${marker}`);
    const existing = (await this.list(issueNumber)).find((c) => c.body.includes(marker));
    if (existing) return { action: 'updated', comment: await this.update(existing.id, body) };
    return { action: 'created', comment: await this.create(issueNumber, body) };
  }
}
