/**
 * A local HTTP server standing in for the GitHub REST API's issue-comment endpoints. It keeps comments
 * per repository and issue with their authors, paginates like GitHub (per_page, Link rel="next"),
 * checks the token (Octokit sends `token <t>`, curl-style clients `Bearer <t>`), answers GET /user like
 * GitHub does for GITHUB_TOKEN (403 "Resource not accessible by integration") unless a user login is
 * given, can fail the next requests with a status (retries), and records every call so tests can
 * assert "created once, then edited, never duplicated".
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';

export interface RecordedCall {
  method: string;
  path: string;
  body?: { body?: string };
}

export interface StoredComment {
  id: number;
  body: string;
  repo: string;
  issue: number;
  /** Login of the author. */
  author: string;
}

export interface FakeGitHubApi {
  url: string;
  calls: RecordedCall[];
  comments: StoredComment[];
  /** Adds a comment as someone else would (to test pagination and "not ours" comments). */
  seed(repo: string, issue: number, body: string, author?: string): StoredComment;
  /** The next `count` requests answer `status` (e.g. 502: Octokit's retry plugin must retry). */
  failNext(count: number, status: number): void;
  close(): Promise<void>;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function startFakeGitHubApi(
  opts: {
    token?: string;
    maxBodyChars?: number;
    /** The token's user (GET /user answers it). Unset: a GITHUB_TOKEN, which writes as github-actions[bot]. */
    userLogin?: string;
  } = {},
): Promise<FakeGitHubApi> {
  const token = opts.token ?? 'test-token';
  const me = opts.userLogin ?? 'github-actions[bot]';
  let failures: { count: number; status: number } = { count: 0, status: 0 };
  const maxBody = opts.maxBodyChars ?? 65_536;
  const calls: RecordedCall[] = [];
  const comments: StoredComment[] = [];
  let nextId = 1000;
  let url = '';

  const json = (res: import('node:http').ServerResponse, status: number, value: unknown, headers = {}) => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(value));
  };
  const view = (c: StoredComment) => ({
    id: c.id,
    body: c.body,
    html_url: `https://github.example/${c.repo}/issues/${c.issue}#issuecomment-${c.id}`,
    user: { login: c.author },
  });

  const server: Server = createServer(async (req, res) => {
    const u = new URL(req.url ?? '/', url);
    const raw = await readBody(req);
    const body = raw ? (JSON.parse(raw) as { body?: string }) : undefined;
    calls.push({ method: req.method ?? '', path: u.pathname + u.search, ...(body ? { body } : {}) });
    if (failures.count > 0) {
      failures.count--;
      return json(res, failures.status, { message: `injected failure ${failures.status}` });
    }
    const auth = req.headers.authorization ?? '';
    if (auth !== `Bearer ${token}` && auth !== `token ${token}`)
      return json(res, 401, { message: 'Bad credentials' });
    if (u.pathname === '/user' && req.method === 'GET') {
      if (opts.userLogin) return json(res, 200, { login: opts.userLogin, type: 'User' });
      return json(res, 403, { message: 'Resource not accessible by integration' });
    }

    let m = /^\/repos\/([^/]+\/[^/]+)\/issues\/(\d+)\/comments$/.exec(u.pathname);
    if (m) {
      const repo = m[1]!;
      const issue = Number(m[2]);
      if (req.method === 'GET') {
        const perPage = Math.min(100, Number(u.searchParams.get('per_page') ?? 30));
        const page = Number(u.searchParams.get('page') ?? 1);
        const all = comments.filter((c) => c.repo === repo && c.issue === issue);
        const slice = all.slice((page - 1) * perPage, page * perPage);
        const headers: Record<string, string> = {};
        if (page * perPage < all.length) {
          const next = new URL(u);
          next.searchParams.set('page', String(page + 1));
          headers.link = `<${next.toString()}>; rel="next"`;
        }
        return json(res, 200, slice.map(view), headers);
      }
      if (req.method === 'POST') {
        if (!body?.body) return json(res, 422, { message: 'body is missing' });
        if (body.body.length > maxBody)
          return json(res, 422, { message: `Body is too long (maximum is ${maxBody} characters)` });
        const c = { id: nextId++, body: body.body, repo, issue, author: me };
        comments.push(c);
        return json(res, 201, view(c));
      }
    }
    m = /^\/repos\/([^/]+\/[^/]+)\/issues\/comments\/(\d+)$/.exec(u.pathname);
    if (m && req.method === 'PATCH') {
      const c = comments.find((x) => x.repo === m![1] && x.id === Number(m![2]));
      if (!c) return json(res, 404, { message: 'Not Found' });
      if (!body?.body) return json(res, 422, { message: 'body is missing' });
      if (body.body.length > maxBody)
        return json(res, 422, { message: `Body is too long (maximum is ${maxBody} characters)` });
      c.body = body.body;
      return json(res, 200, view(c));
    }
    return json(res, 404, { message: 'Not Found' });
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  if (!addr || typeof addr !== 'object') throw new Error('fake GitHub API: no address');
  url = `http://127.0.0.1:${addr.port}`;

  return {
    url,
    calls,
    comments,
    seed(repo, issue, text, author = 'someone-else') {
      const c = { id: nextId++, body: text, repo, issue, author };
      comments.push(c);
      return c;
    },
    failNext(count, status) {
      failures = { count, status };
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
