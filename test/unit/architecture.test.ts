/**
 * The house holds together (issue 17): no import cycle between folders of src/ or between files, and
 * no import from a lower layer to a higher one. The layer order is the numbered list under "The
 * layering rule" in docs/architecture.md: this test reads it from there, so the picture and the check
 * are one place. Imports are read by TypeScript's own pre-processor (static, re-exports and dynamic
 * `import()` alike; `import type` counts too: a knot in the types is still a knot).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');
const SRC = join(ROOT, 'src');

/** docs/architecture.md's layers, lowest first: each a set of folders (or files) directly under src/. */
function layersFromDoc(markdown: string): string[][] {
  const section = markdown.split(/^## The layering rule$/m)[1]?.split(/^## /m)[0];
  if (!section) throw new Error('docs/architecture.md: no "## The layering rule" section');
  const layers: string[][] = [];
  for (const line of section.split('\n')) {
    const item = /^(\d+)\. ((?:`[^`]+`(?:, )?)+):/.exec(line);
    if (!item) continue;
    if (Number(item[1]) !== layers.length + 1) {
      throw new Error(`docs/architecture.md: layer ${item[1]} is out of order: "${line}"`);
    }
    layers.push([...item[2]!.matchAll(/`([^`]+)`/g)].map((m) => m[1]!));
  }
  return layers;
}

/** Every .ts file under src/ (relative to src/, with `/`) and the src/ files it imports. */
function importGraph(srcDir: string): Map<string, string[]> {
  const files = readdirSync(srcDir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts'))
    .map((f) => f.split('\\').join('/'));
  const known = new Set(files);
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const text = readFileSync(join(srcDir, file), 'utf8');
    const targets: string[] = [];
    for (const { fileName } of ts.preProcessFile(text, true, true).importedFiles) {
      if (!fileName.startsWith('.')) continue;
      const target = relative(srcDir, resolve(srcDir, dirname(file), fileName))
        .split('\\')
        .join('/')
        .replace(/\.js$/, '.ts');
      if (known.has(target)) targets.push(target);
      else if (known.has(`${target}/index.ts`)) targets.push(`${target}/index.ts`);
    }
    graph.set(file, targets);
  }
  return graph;
}

/** The strongly connected components with more than one node (Tarjan): each one is a cycle. */
function cycles(graph: Map<string, Iterable<string>>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string) => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1) found.push(component.sort());
    }
  };
  for (const v of [...graph.keys()].sort()) if (!index.has(v)) visit(v);
  return found;
}

/** The folder (or top-level file) of src/ a file lives in: `heal/phases/pass.ts` -> `heal`. */
const unitOf = (file: string) => file.split('/')[0]!;

const graph = importGraph(SRC);
const layers = layersFromDoc(readFileSync(join(ROOT, 'docs/architecture.md'), 'utf8'));
const rank = new Map(layers.flatMap((names, i) => names.map((n) => [n, i + 1] as const)));

describe('the house (docs/architecture.md)', () => {
  it('names every folder of src/ in exactly one layer', () => {
    const named = layers.flat();
    expect(named.length).toBe(new Set(named).size);
    const units = [...new Set([...graph.keys()].map(unitOf))].sort();
    expect(units.filter((u) => !rank.has(u))).toEqual([]);
    expect(named.filter((n) => !units.includes(n))).toEqual([]);
  });

  it('has no import from a lower layer to a higher one', () => {
    const upward: string[] = [];
    for (const [file, targets] of graph) {
      for (const target of targets) {
        const from = rank.get(unitOf(file));
        const to = rank.get(unitOf(target));
        if (from !== undefined && to !== undefined && to > from) {
          upward.push(`src/${file} (layer ${from}) imports src/${target} (layer ${to})`);
        }
      }
    }
    expect(upward).toEqual([]);
  });

  it('has no import cycle between folders of src/', () => {
    const folders = new Map<string, Set<string>>();
    for (const [file, targets] of graph) {
      const from = unitOf(file);
      const edges = folders.get(from) ?? folders.set(from, new Set()).get(from)!;
      for (const t of targets) if (unitOf(t) !== from) edges.add(unitOf(t));
    }
    const why = (component: string[]) =>
      component.map((from) =>
        [...graph]
          .filter(([f]) => unitOf(f) === from)
          .flatMap(([f, ts]) =>
            ts
              .filter((t) => unitOf(t) !== from && component.includes(unitOf(t)))
              .map((t) => `src/${f} -> src/${t}`),
          ),
      );
    expect(cycles(folders).map((c) => ({ folders: c, imports: why(c).flat() }))).toEqual([]);
  });

  it('has no import cycle between files', () => {
    expect(cycles(graph)).toEqual([]);
  });
});

describe('the checker itself', () => {
  it('finds a cycle of three and none in a chain', () => {
    const circle = new Map([
      ['a', ['b']],
      ['b', ['c']],
      ['c', ['a']],
      ['d', ['a']],
    ]);
    expect(cycles(circle)).toEqual([['a', 'b', 'c']]);
    expect(
      cycles(
        new Map([
          ['a', ['b']],
          ['b', ['c']],
          ['c', []],
        ]),
      ),
    ).toEqual([]);
  });

  it('reads the numbered layers of the doc, lowest first', () => {
    const doc =
      '## The layering rule\n\n1. `spec`, `text`: pure;\n2. `heal`: the core;\n\n## Next\n3. `x`: no';
    expect(layersFromDoc(doc)).toEqual([['spec', 'text'], ['heal']]);
  });
});
