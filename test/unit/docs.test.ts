/**
 * The docs hold together (issue 17): every relative link in README.md and docs/*.md reaches a file
 * that exists and, with a #fragment, a heading (by GitHub's own slug rules, github-slugger) or an
 * explicit anchor in it; and every generated page is what `npm run docs` makes now.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import GithubSlugger from 'github-slugger';
import { lexer, type Token, type Tokens } from 'marked';
import { describe, expect, it } from 'vitest';
import { generatedPages } from '../../scripts/gen-docs.js';

const ROOT = resolve(import.meta.dirname, '../..');
const PAGES = [
  'README.md',
  ...readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];

/** The text a reader sees of inline tokens: what GitHub slugs a heading from. */
function plain(tokens: Token[] | undefined): string {
  return (tokens ?? [])
    .map((t) => {
      if ('tokens' in t && t.tokens) return plain(t.tokens);
      if (t.type === 'html') return '';
      return 'text' in t ? t.text : '';
    })
    .join('');
}

function walk(tokens: Token[], visit: (t: Token) => void) {
  for (const t of tokens) {
    visit(t);
    if ('tokens' in t && t.tokens) walk(t.tokens, visit);
    if (t.type === 'list') for (const item of (t as Tokens.List).items) walk(item.tokens, visit);
    if (t.type === 'table') {
      const table = t as Tokens.Table;
      for (const c of [...table.header, ...table.rows.flat()]) walk(c.tokens, visit);
    }
  }
}

type Page = { links: { href: string; line: number }[]; anchors: Set<string> };
const pages = new Map<string, Page>();

/** A Markdown file's links (with the line they are on) and the anchors it offers. */
function page(file: string): Page {
  const known = pages.get(file);
  if (known) return known;
  const text = readFileSync(file, 'utf8');
  const slugger = new GithubSlugger();
  const anchors = new Set<string>();
  const links: Page['links'] = [];
  const lineOf = (raw: string) => text.slice(0, Math.max(0, text.indexOf(raw))).split('\n').length;
  walk(lexer(text), (t) => {
    if (t.type === 'heading') anchors.add(slugger.slug(plain((t as Tokens.Heading).tokens)));
    if (t.type === 'link' || t.type === 'image')
      links.push({ href: (t as Tokens.Link).href, line: lineOf(t.raw) });
    if (t.type === 'html' || t.type === 'paragraph')
      for (const m of t.raw.matchAll(/<a\s[^>]*\b(?:id|name)="([^"]+)"/g)) anchors.add(m[1]!);
  });
  const p = { links, anchors };
  pages.set(file, p);
  return p;
}

/** Why a link from `from` (read from `base`, its folder by default) is broken, or undefined when it resolves. */
function broken(from: string, href: string, base = dirname(from)): string | undefined {
  if (/^[a-z][a-z0-9+.-]*:/i.test(href)) return undefined; // https:, mailto:: not ours to check
  const [path = '', fragment] = href.split('#', 2);
  const target = path === '' ? from : resolve(base, decodeURIComponent(path));
  if (!existsSync(target)) return `${relative(ROOT, target)} does not exist`;
  if (fragment === undefined) return undefined;
  if (!target.endsWith('.md') || statSync(target).isDirectory()) return undefined;
  const anchors = page(target).anchors;
  return anchors.has(decodeURIComponent(fragment))
    ? undefined
    : `${relative(ROOT, target)} has no heading #${fragment} (it has: ${[...anchors].slice(0, 40).join(', ')})`;
}

describe('relative links in README.md and docs/', () => {
  it.each(PAGES)('%s: every relative link resolves, #anchors included', (name) => {
    const file = join(ROOT, name);
    const base = dirname(file);
    const problems = page(file)
      .links.map((l) => ({ ...l, why: broken(file, l.href, base) }))
      .filter((l) => l.why)
      .map((l) => `${name}:${l.line}: (${l.href}) ${l.why}`);
    expect(problems).toEqual([]);
  });

  it('the checker itself: GitHub slugs, broken files and broken anchors are told apart', () => {
    const slugger = new GithubSlugger();
    const [heading] = lexer('## The sandbox: `tripod sandbox`') as Tokens.Heading[];
    expect(plain(heading?.tokens)).toBe('The sandbox: tripod sandbox');
    expect(slugger.slug('The sandbox: tripod sandbox')).toBe('the-sandbox-tripod-sandbox');
    expect(slugger.slug('Provisioning: tripod plan, apply, destroy')).toBe(
      'provisioning-tripod-plan-apply-destroy',
    );
    expect(slugger.slug('Provisioning: tripod plan, apply, destroy')).toBe(
      'provisioning-tripod-plan-apply-destroy-1',
    );
    const readme = join(ROOT, 'README.md');
    expect(broken(readme, 'docs/no-such-page.md')).toMatch(/does not exist/);
    expect(broken(readme, 'docs/getting-started.md#no-such-heading')).toMatch(/has no heading/);
    expect(broken(readme, 'docs/getting-started.md')).toBeUndefined();
    expect(broken(readme, 'https://example.invalid/x#y')).toBeUndefined();
  });
});

describe('generated pages', () => {
  for (const p of generatedPages(ROOT)) {
    it(`${p.path} is what \`npm run docs\` makes`, () => {
      expect(p.actual, `${p.path} is stale: run \`npm run docs\``).toBe(p.expected);
    });
  }
});
