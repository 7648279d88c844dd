import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commentBody, commentMarker, GITHUB_COMMENT_LIMIT, trimMarkdown } from '../../src/action/comment.js';
import { isMissingCredentials, NO_CREDENTIALS, noCredentialsMessage } from '../../src/action/errors.js';
import { InputError, parseInputs } from '../../src/action/inputs.js';
import { readStatusDocument } from '../../src/action/status-document.js';
import { GITHUB_ACTIONS_BOT, GitHubApiError, GitHubComments } from '../../src/adapters/github/comments.js';
import { type FakeGitHubApi, startFakeGitHubApi } from '../support/github-api.js';

const reader = (values: Record<string, string>) => (name: string) => values[name] ?? '';

describe('action inputs', () => {
  it('defaults: plan on cluster.yaml, comment only on pull_request events', () => {
    const onPr = parseInputs(reader({}), 'pull_request');
    expect(onPr).toMatchObject({
      command: 'plan',
      spec: 'cluster.yaml',
      commentOnPr: true,
      allowDestructive: false,
      timeoutMinutes: 45,
    });
    expect(parseInputs(reader({ 'comment-on-pr': 'auto' }), 'push').commentOnPr).toBe(false);
    expect(parseInputs(reader({ 'comment-on-pr': 'false' }), 'pull_request').commentOnPr).toBe(false);
  });

  it('reports every bad input at once, naming the input', () => {
    let err: unknown;
    try {
      parseInputs(
        reader({ command: 'deploy', 'allow-destructive': 'maybe', 'timeout-minutes': 'soon' }),
        'push',
      );
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InputError);
    const msg = (err as Error).message;
    expect(msg).toContain('command: must be one of plan, apply, status, upgrade, destroy (got "deploy")');
    expect(msg).toContain('allow-destructive: must be true, false (got "maybe")');
    expect(msg).toContain('timeout-minutes: must be a number of minutes');
  });

  it('rejects confirm-destroy outside destroy and a malformed region', () => {
    expect(() => parseInputs(reader({ command: 'apply', 'confirm-destroy': 'x' }), 'push')).toThrow(
      /confirm-destroy: only used with command destroy/,
    );
    expect(() => parseInputs(reader({ 'aws-region': 'Ireland' }), 'push')).toThrow(/aws-region/);
  });
});

describe('comment trimming', () => {
  it('leaves short bodies alone and starts with the marker', () => {
    const body = commentBody('demo', '## Plan\nNo changes.', undefined);
    expect(body.startsWith(commentMarker('demo'))).toBe(true);
    expect(body).toContain('No changes.');
    expect(body).not.toContain('Trimmed');
  });

  it('trims below the limit, closes an open code block and points to the summary', () => {
    const lines = Array.from({ length: 5000 }, (_, i) => `+ resource number ${i} created with some detail`);
    const content = `## Plan\n\n\`\`\`diff\n${lines.join('\n')}\n\`\`\`\n`;
    const body = commentBody('demo', content, 'https://github.example/o/r/actions/runs/1');
    expect(body.length).toBeLessThan(GITHUB_COMMENT_LIMIT);
    expect(body).toContain('[job summary](https://github.example/o/r/actions/runs/1)');
    expect(body).toMatch(/characters left out/);
    expect(body.split('\n').filter((l) => l.startsWith('```')).length % 2).toBe(0);
  });

  it('property: any text fits the limit and keeps its beginning', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 3000 }), fc.integer({ min: 400, max: 2000 }), (text, limit) => {
        const out = trimMarkdown(text, limit, 'See the job summary.');
        expect(out.length).toBeLessThanOrEqual(limit);
        if (text.length <= limit) expect(out).toBe(text);
        else expect(out).toContain('See the job summary.');
      }),
    );
  });
});

describe('missing credentials', () => {
  it('says exactly that and how to fix it with OIDC', () => {
    const msg = noCredentialsMessage('eu-west-1', { GITHUB_ACTIONS: 'true' });
    expect(msg.startsWith(NO_CREDENTIALS)).toBe(true);
    expect(msg).toContain('aws-actions/configure-aws-credentials');
    expect(msg).toContain('id-token: write');
    expect(msg).toContain('aws-region: eu-west-1');
    expect(msg).toContain('This job has no OIDC token right now');
    expect(noCredentialsMessage('eu-west-1', {})).not.toContain('no OIDC token right now');
  });

  it('recognises the credential chain failure, also wrapped', () => {
    const chain = Object.assign(new Error('Could not load credentials from any providers'), {
      name: 'CredentialsProviderError',
    });
    expect(isMissingCredentials(chain)).toBe(true);
    expect(isMissingCredentials(new Error('wrapped', { cause: chain }))).toBe(true);
    expect(isMissingCredentials(new Error('AccessDenied'))).toBe(false);
  });
});

describe('GitHub comments adapter (Octokit) against the stand-in API', () => {
  let api: FakeGitHubApi;
  beforeAll(async () => {
    api = await startFakeGitHubApi({ token: 'tok' });
  });
  afterAll(() => api.close());

  const client = (token = 'tok', target = api) =>
    new GitHubComments({ apiUrl: target.url, repository: 'acme/infra', token }, { retryBaseMs: 5 });

  it('finds its comment beyond the first page, edits it in place, never duplicates', async () => {
    for (let i = 0; i < 130; i++) api.seed('acme/infra', 7, `someone else's comment ${i}`);
    const marker = commentMarker('paged');
    const first = await client().upsert(7, marker, `${marker}\nfirst`);
    expect(first.action).toBe('created');
    expect(first.comment.author).toBe(GITHUB_ACTIONS_BOT);
    const second = await client().upsert(7, marker, `${marker}\nsecond`);
    expect(second.action).toBe('updated');
    expect(second.comment.id).toBe(first.comment.id);
    const ours = api.comments.filter((c) => c.issue === 7 && c.body.includes(marker));
    expect(ours).toHaveLength(1);
    expect(ours[0]!.body).toBe(`${marker}\nsecond`);
    // 131 comments -> two pages were read on the second upsert
    const listCalls = api.calls.filter((c) => c.method === 'GET' && c.path.includes('/issues/7/'));
    expect(listCalls.length).toBe(4);
  });

  it('a comment with the marker written by someone else is left alone and ours is written', async () => {
    const marker = commentMarker('planted');
    const planted = api.seed('acme/infra', 8, `${marker}\nlooks like tripod's plan`, 'mallory');
    const r = await client().upsert(8, marker, `${marker}\nthe real plan`);
    expect(r.action).toBe('created');
    expect(api.comments.find((c) => c.id === planted.id)!.body).toBe(`${marker}\nlooks like tripod's plan`);
    expect(api.calls.some((c) => c.method === 'PATCH' && c.path.endsWith(`/comments/${planted.id}`))).toBe(
      false,
    );
    // the next push edits ours, still not theirs
    const again = await client().upsert(8, marker, `${marker}\nsecond push`);
    expect(again).toMatchObject({ action: 'updated', comment: { id: r.comment.id } });
    expect(api.comments.find((c) => c.id === planted.id)!.author).toBe('mallory');
  });

  it("a user's token: the identity comes from GET /user, and only that user's comment is edited", async () => {
    const userApi = await startFakeGitHubApi({ token: 'pat', userLogin: 'octocat' });
    try {
      const marker = commentMarker('pat');
      const bot = userApi.seed('acme/infra', 3, `${marker}\nby the bot`, GITHUB_ACTIONS_BOT);
      const c = client('pat', userApi);
      expect(await c.whoAmI()).toBe('octocat');
      const r = await c.upsert(3, marker, `${marker}\nby octocat`);
      expect(r.action).toBe('created');
      expect(r.comment.author).toBe('octocat');
      expect(userApi.comments.find((x) => x.id === bot.id)!.body).toBe(`${marker}\nby the bot`);
    } finally {
      await userApi.close();
    }
  });

  it('server errors are retried (Octokit retry plugin)', async () => {
    const marker = commentMarker('retry');
    const before = api.calls.length;
    api.failNext(2, 502);
    const r = await client().upsert(9, marker, `${marker}\nafter two 502s`);
    expect(r.action).toBe('created');
    expect(api.calls.length - before).toBeGreaterThanOrEqual(5); // 2 failed + GET /user + list + create
  });

  it('a bad token gives an error that names the input, and is not retried', async () => {
    const before = api.calls.length;
    await expect(client('wrong').list(7)).rejects.toThrow(GitHubApiError);
    expect(api.calls.length - before).toBe(1);
    await expect(client('wrong').list(7)).rejects.toThrow(/github-token input/);
  });
});

describe('reading the reconciler status document', () => {
  it('reads the reconciler document: members, leader, learners, convergence, last action', () => {
    const doc = {
      version: 1,
      cluster: 'c',
      at: '2026-01-01T00:00:00.000Z',
      conditions: { converged: false, healthyVoters: 2 },
      members: [
        { id: '1', name: 'i-a', healthy: true, leader: true },
        { id: '2', name: 'i-b', healthy: true },
        { id: '3', name: 'i-c', healthy: false, learner: true },
      ],
      waits: ['learner i-c catching up'],
      lastActions: [{ at: '2026-01-01T00:00:00.000Z', action: 'add learner i-c', outcome: 'done' }],
      memory: { unhealthySince: {} },
    };
    const r = readStatusDocument(JSON.stringify(doc))!;
    expect(r.etcd!.healthyVoters).toBe(2);
    expect(r.etcd!.members[0]).toEqual({
      id: '1',
      name: 'i-a',
      isLearner: false,
      healthy: true,
      leader: true,
    });
    expect(r.etcd!.members[2]!.isLearner).toBe(true);
    expect(r.lastReconcile).toEqual({
      at: '2026-01-01T00:00:00.000Z',
      result: 'not converged, waiting: learner i-c catching up',
      detail: 'last action add learner i-c at 2026-01-01T00:00:00.000Z: done',
    });
  });

  it('a missing document is undefined; a broken one says so', () => {
    expect(readStatusDocument(undefined)).toBeUndefined();
    expect(readStatusDocument('{oops')!.lastReconcile!.result).toMatch(/not JSON/);
  });
});
