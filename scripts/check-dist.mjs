// Fails when dist/ differs from a fresh build of the sources.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

// A sibling of dist/ (same depth), so source-map paths come out the same.
const fresh = '.check-dist';
rmSync(fresh, { recursive: true, force: true });
try {
  execFileSync(process.execPath, ['scripts/build.mjs', fresh], { stdio: 'inherit' });
  const list = (root) => {
    const out = [];
    const walk = (d) => {
      for (const name of readdirSync(d)) {
        const p = join(d, name);
        if (statSync(p).isDirectory()) walk(p);
        else out.push(relative(root, p));
      }
    };
    walk(root);
    return out.sort();
  };
  const a = list('dist');
  const b = list(fresh);
  const problems = [];
  for (const f of new Set([...a, ...b])) {
    if (!a.includes(f)) problems.push(`missing in dist/: ${f}`);
    else if (!b.includes(f)) problems.push(`not produced by the build (stale): dist/${f}`);
    else if (!readFileSync(join('dist', f)).equals(readFileSync(join(fresh, f))))
      problems.push(`differs from a fresh build: dist/${f}`);
  }
  if (problems.length) {
    console.error(
      `check-dist: dist/ does not match the sources:\n  ${problems.join('\n  ')}\nRun \`npm run build\` and commit dist/.`,
    );
    process.exit(1);
  }
  console.log(`check-dist: dist/ matches a fresh build (${a.length} files)`);
} finally {
  rmSync(fresh, { recursive: true, force: true });
}
