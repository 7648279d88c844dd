/**
 * Issue 15, finding 9: everything tripod prints is escaped for where it is printed. The log is checked
 * against a model of how the Actions runner reads workflow commands (a line whose first non-blank
 * characters are `::` or `##[`, unless commands are paused by `::stop-commands::<token>` until
 * `::<token>::`); Markdown against what CommonMark/GitHub would turn into structure (fences, table
 * cells, HTML, links, mentions).
 */
import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { trimMarkdown } from '../../src/action/comment.js';
import type { PlanView } from '../../src/action/engine.js';
import { coreRunner } from '../../src/action/main.js';
import { planReport } from '../../src/action/plan-report.js';
import { statusReport } from '../../src/action/status-report.js';
import { deriveTopology } from '../../src/cluster-spec/topology.js';
import type { Plan } from '../../src/provision/plan.js';
import { renderPlanMarkdown, renderPlanText } from '../../src/provision/plan-render.js';
import {
  fenceOf,
  logText,
  mdCell,
  mdCode,
  mdFence,
  mdText,
  oneLine,
  shQuote,
} from '../../src/text/escape.js';
import { minimalClusterSpec } from '../support/spec-text.js';

/** The workflow commands the runner would run for `log` (its v2 `::` and v1 `##[` forms). */
function runnerCommands(log: string): string[] {
  const commands: string[] = [];
  let paused: string | undefined;
  for (const raw of log.split('\n')) {
    const line = raw.trimStart();
    if (paused !== undefined) {
      if (line === `::${paused}::`) paused = undefined;
      continue;
    }
    const stop = /^::stop-commands::(.+)$/.exec(line);
    if (stop) {
      paused = stop[1]!;
      continue;
    }
    if (line.startsWith('::') || line.startsWith('##[')) commands.push(line);
  }
  return commands;
}

const HOSTILE = [
  'tag: "x"\n::set-output name=has-changes::false',
  '  ::add-mask::hidden',
  'a\r::error::pwned',
  '##[set-output name=x;]y',
  '::stop-commands::guess\n::warning::x',
];

describe('the log: no workflow command from printed text', () => {
  it.each(HOSTILE)('%j is printed with commands paused, and nothing in it runs', (text) => {
    const out = logText(text, 'tok-1');
    expect(runnerCommands(out)).toEqual([]);
    expect(out.split('\n').slice(1, -1).join('\n')).toBe(text.replace(/\r/g, '\n'));
  });

  it("the Action's runner prints every info line through it (what reaches stdout runs no command)", () => {
    const written: string[] = [];
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
      written.push(String(chunk));
      return true;
    });
    try {
      coreRunner.info('plan for demo\n::set-output name=has-changes::false');
    } finally {
      spy.mockRestore();
    }
    expect(runnerCommands(written.join(''))).toEqual([]);
    expect(written.join('')).toContain('::set-output name=has-changes::false');
  });

  it('ordinary text is printed as it is', () => {
    expect(logText('+ parameter /tripod/demo/config\n  ~ value.x: 1 -> 2', 't')).toBe(
      '+ parameter /tripod/demo/config\n  ~ value.x: 1 -> 2',
    );
  });

  it('any text: the runner sees no command, and the token is fresh each time', () => {
    fc.assert(
      fc.property(fc.string(), fc.constantFrom('::', '##[', '  ::'), fc.string(), (a, cmd, b) => {
        expect(runnerCommands(logText(`${a}\n${cmd}${b}`))).toEqual([]);
      }),
    );
    expect(logText('::x::y')).not.toBe(logText('::x::y'));
  });
});

/** The lines of `md` that close an open fence early, or a fence left open at the end. */
function fenceBreaks(md: string, body: string): boolean {
  const lines = md.split('\n');
  const open = fenceOf(lines[0]!)!;
  const inner = lines.slice(1, -1);
  return (
    inner.some((l) => {
      const f = fenceOf(l);
      return f !== undefined && f[0] === open[0] && f.length >= open.length && l.trim() === f;
    }) || inner.join('\n') !== body
  );
}

describe('Markdown', () => {
  it('a fence no line of its body can close', () => {
    for (const body of ['```\n<b>x</b>', '````', 'a\n   ```diff\n', '`````````']) {
      const md = mdFence(body, 'diff');
      expect(fenceBreaks(md, body)).toBe(false);
    }
    fc.assert(
      fc.property(fc.string(), (body) => {
        const normal = body.replace(/\r(?!\n)/g, '\n');
        return !fenceBreaks(mdFence(normal), normal);
      }),
    );
  });

  it('text: no HTML, link, image, emphasis, code, cell split, newline or mention gets through', () => {
    const s = mdText('<img src=x onerror=y> [a](http://x) ![i](http://x) *b* `c` | d @team\n# h');
    expect(s).not.toMatch(/(?<!\\)[<>[\]*`|]/);
    expect(s).not.toContain('\n');
    expect(s).toContain('@\u200bteam');
    expect(mdCell('a|b')).toBe('a\\|b');
  });

  it('inline code survives backticks and newlines', () => {
    expect(mdCode('a`b')).toBe('``a`b``');
    expect(mdCode('`x')).toBe('`` `x ``');
    expect(mdCode('a\nb')).toBe('`a\\nb`');
  });

  it('one line: control characters, escape sequences and line separators shown escaped', () => {
    expect(oneLine('a\nb\tc\u001b[31m\u2028')).toBe('a\\nb\\tc\\u001b[31m\\u2028');
  });

  it('a trimmed comment closes the fence it cut with the same fence', () => {
    const body = Array.from({ length: 400 }, (_, i) => `+ line ${i} \`\`\`\``).join('\n');
    const md = `# plan\n\n${mdFence(body, 'diff')}\n`;
    const out = trimMarkdown(md, 2000, 'see the summary');
    expect(out.length).toBeLessThanOrEqual(2000);
    const fences = out.split('\n').filter((l) => fenceOf(l));
    expect(fences).toEqual(['`````diff', '`````']);
  });
});

const spec = minimalClusterSpec();

/** A plan whose values come from AWS (an existing resource's tag, a conflict's name). */
function hostilePlan(): Plan {
  return {
    cluster: 'demo',
    region: 'eu-west-1',
    mode: 'apply',
    changes: [
      {
        action: 'update',
        key: 'sg/nodes',
        kind: 'security-group',
        group: 'network',
        title: 'security group demo-nodes',
        id: 'sg-1',
        changes: [{ field: 'tags.owner', before: 'x\n```\n<img src=x>\n::set-output name=a::b', after: 'y' }],
      },
    ],
    summary: { create: 0, update: 1, replace: 0, delete: 0 },
    hasChanges: true,
    destructive: [],
    conflicts: ['load balancer <b>evil</b>|x @org/team [link](http://x)'],
    warnings: ['warning with `code` and\nnewline'],
  };
}

/** `md` without its fenced code blocks (whose content GitHub shows as text). */
function outsideFences(md: string): string {
  const out: string[] = [];
  let open: string | undefined;
  for (const line of md.split('\n')) {
    const f = fenceOf(line);
    if (open === undefined && f) open = f;
    else if (open !== undefined && f && f[0] === open[0] && f.length >= open.length && line.trim() === f)
      open = undefined;
    else if (open === undefined) out.push(line);
  }
  return out.join('\n');
}

describe('the plan and status reports', () => {
  it('a hostile value in the plan stays inside its diff line and its fence; conflicts stay text', () => {
    const plan = hostilePlan();
    const text = renderPlanText(plan);
    expect(text.split('\n').filter((l) => l.includes('tags.owner'))).toHaveLength(1);
    expect(runnerCommands(logText(text))).toEqual([]);
    const md = renderPlanMarkdown(plan);
    expect(outsideFences(md)).not.toMatch(/<img|<b>/);
    expect(md).toContain('\\<b\\>evil\\</b\\>\\|x @\u200borg/team \\[link\\](http://x)');
    const view: PlanView = {
      hasChanges: true,
      changesCount: 1,
      destructive: [],
      conflicts: plan.conflicts,
      diff: 'x\n```\n<img src=x>\n``````',
      text,
      json: plan,
    } as unknown as PlanView;
    const report = planReport({ topology: deriveTopology(spec), plan: view, specPath: 'a`b|c.yaml' });
    expect(report).toContain('``a`b|c.yaml``');
    const diffFence = report.split('\n').find((l) => /^`{3,}diff$/.test(l))!;
    expect(diffFence).toBe('```````diff');
    expect(outsideFences(report)).not.toMatch(/<b>|<img/);
  });

  it('status: a member name or a reconcile detail cannot add table cells, HTML or lines', () => {
    const md = statusReport(
      {
        cluster: 'demo',
        region: 'eu-west-1',
        expectedMasters: 3,
        quorum: 2,
        mastersPerZone: { 'eu-west-1a': 1 },
        instances: [
          { instanceId: 'i-1', zone: 'eu-west-1a', lifecycleState: 'InService', health: 'Healthy' },
        ],
        targets: [],
        etcd: {
          members: [{ id: '1', name: 'm|x<script>', healthy: true, isLearner: false, leader: true }],
          healthyVoters: 1,
        },
        lastReconcile: { at: '2026-01-01T00:00:00Z', result: 'ok', detail: 'line\n| a | b |' },
      } as never,
      { problems: [], warnings: ['w\n<b>'], healthyVoters: 1, zones: [] },
    );
    const row = md.split('\n').find((l) => l.includes('m\\|x'))!;
    expect(row.split(/(?<!\\)\|/)).toHaveLength(6);
    expect(md).not.toMatch(/<script>|<b>/);
    // the detail's newline shows as \n (its backslash escaped), its pipes as text
    expect(md).toContain('line\\\\n\\| a \\| b \\|');
  });
});

describe('shell', () => {
  it('a suggested command quotes what the shell would read otherwise', () => {
    expect(shQuote('clusters/prod.yaml')).toBe('clusters/prod.yaml');
    expect(shQuote("my cluster's spec.yaml")).toBe("'my cluster'\\''s spec.yaml'");
    expect(shQuote('$(rm -rf ~); x`y`')).toBe("'$(rm -rf ~); x`y`'");
  });

  it('any word survives a round trip through bash', async () => {
    const { execFileSync } = await import('node:child_process');
    for (const w of ['a b', "it's", '$HOME', '`id`', 'a\nb', '*', '', '-n']) {
      const out = execFileSync('bash', ['-c', `printf '%s' ${shQuote(w)}`], { encoding: 'utf8' });
      expect(out).toBe(w);
    }
  });
});
