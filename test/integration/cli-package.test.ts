/**
 * The npm package (issue 17, releases): `npx tripod` runs without a clone. The package holds the
 * bundled CLI, the reconciler's Lambda package where the CLI looks for it, the example specs the
 * sandbox defaults to, the licence and the changelog, and nothing of the sources or tests; unpacked
 * on its own (no node_modules), its CLI runs.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { reconcilerZipCandidates } from '../../src/provision/reconciler-bundle.js';

const pkg = JSON.parse(readFileSync('package.json', 'utf8'));

describe('the published package', () => {
  it('is public, says MIT, needs Node 22, and has a LICENSE and a keep-a-changelog CHANGELOG', () => {
    expect(pkg.private).toBe(false);
    expect(pkg.license).toBe('MIT');
    expect(pkg.engines.node).toBe('>=22');
    expect(pkg.bin).toEqual({ tripod: 'bin/tripod.js' });
    expect(readFileSync('LICENSE', 'utf8')).toMatch(
      /^MIT License\n\nCopyright \(c\) \d{4} tripod contributors\n/,
    );
    const changelog = readFileSync('CHANGELOG.md', 'utf8');
    expect(changelog).toContain('[Keep a Changelog](https://keepachangelog.com/en/1.1.0/)');
    expect(changelog).toMatch(/^## \[Unreleased\]$/m);
    for (const section of changelog.match(/^### .*$/gm) ?? [])
      expect([
        '### Added',
        '### Changed',
        '### Deprecated',
        '### Removed',
        '### Fixed',
        '### Security',
      ]).toContain(section);
  });

  it('holds the CLI bundle, the reconciler zip, the examples and no sources; unpacked alone, it runs', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tripod-pack-'));
    const [packed] = JSON.parse(
      execFileSync('npm', ['pack', '--json', '--pack-destination', dir], { encoding: 'utf8' }),
    ) as Array<{ filename: string; files: Array<{ path: string }> }>;
    const files = packed!.files.map((f) => f.path).sort();
    for (const f of [
      'bin/tripod.js',
      'dist/cli/index.js',
      'dist/lambdas/reconciler.zip',
      'examples/three-zones.yaml',
      'LICENSE',
      'CHANGELOG.md',
      'README.md',
      'package.json',
    ])
      expect(files).toContain(f);
    expect(files.filter((f) => /^(src|test|bench|scripts|infra|dist\/action)\//.test(f))).toEqual([]);

    execFileSync('tar', ['-xzf', join(dir, packed!.filename), '-C', dir]);
    const root = join(dir, 'package');
    expect(existsSync(join(root, 'node_modules'))).toBe(false);
    const cli = (...args: string[]) =>
      spawnSync(process.execPath, [join(root, 'bin/tripod.js'), ...args], { cwd: dir, encoding: 'utf8' });
    expect(cli('--version').stdout.trim()).toBe(pkg.version);
    const v = cli('validate', '-f', join(root, 'examples/three-zones.yaml'));
    expect(v.status, v.stderr).toBe(0);
    // The bundled CLI finds the reconciler's Lambda package inside the package.
    const candidates = reconcilerZipCandidates(pathToFileURL(join(root, 'dist/cli/index.js')).href);
    expect(candidates).toContain(join(root, 'dist/lambdas/reconciler.zip'));
    expect(candidates.some((p) => existsSync(p) && p.startsWith(root))).toBe(true);
  }, 60_000);
});
