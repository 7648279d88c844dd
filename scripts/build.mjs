// Builds the committed bundles in dist/ (or in the folder given as the first argument).
// Deterministic: the same sources give the same bytes, which is what check-dist relies on.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { build } from 'esbuild';
import { lambdaBundleOptions, lambdaZipFiles } from './lambda-bundle.mjs';

const outRoot = process.argv[2] ?? 'dist';

/** entry source -> output file under dist/. An entry whose source does not exist yet is skipped. */
export const entries = [
  { src: 'src/cli/index.ts', out: 'cli/index.js' },
  { src: 'src/action/index.ts', out: 'action/index.js' },
  { src: 'src/lambdas/reconciler.ts', out: 'lambdas/reconciler/index.mjs', lambda: true },
  // Loaded by index.mjs on its first etcd snapshot only (keeps S3 out of the cold start).
  {
    src: 'src/lambdas/snapshot.ts',
    out: 'lambdas/reconciler/snapshot.mjs',
    lambda: true,
    eventStreams: true,
  },
];

const banner =
  "import { createRequire as __tripodCreateRequire } from 'node:module';\nconst require = __tripodCreateRequire(import.meta.url);";

rmSync(outRoot, { recursive: true, force: true });
for (const e of entries) {
  if (!existsSync(e.src)) continue;
  const outfile = join(outRoot, e.out);
  mkdirSync(dirname(outfile), { recursive: true });
  await build({
    entryPoints: [e.src],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    // The reconciler runs on Lambda's nodejs22.x (arm64); the CLI and the Action on Node 20+.
    target: e.lambda ? 'node22' : 'node20',
    minify: true,
    sourcemap: e.lambda ? 'linked' : false,
    // Maps to file:line without carrying every source a second time (dist/ is committed).
    sourcesContent: false,
    legalComments: 'none',
    banner: { js: banner },
    mainFields: ['module', 'main'],
    logLevel: 'warning',
    metafile: false,
    ...(e.lambda ? lambdaBundleOptions('.', { eventStreams: e.eventStreams }) : {}),
  });
}
if (existsSync(join(outRoot, 'lambdas/reconciler'))) {
  // The same zip writer the provisioner uses (one concept, one place), loaded through tsx.
  const { tsImport } = await import('tsx/esm/api');
  const { zipSync } = await tsImport('../src/provision/zip.ts', import.meta.url);
  const files = Object.fromEntries(
    lambdaZipFiles(join(outRoot, 'lambdas/reconciler')).map((f) => [f.name, readFileSync(f.path)]),
  );
  writeFileSync(join(outRoot, 'lambdas/reconciler.zip'), zipSync(files, { deflate: true }));
}
