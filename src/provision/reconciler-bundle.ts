/**
 * The reconciler's real Lambda package, the one both the CLI and the Action deploy: the
 * dist/lambdas/reconciler.zip that `npm run build` makes and the package ships. Both front ends load
 * it through this one function, so a plan from either is a no-op after an apply from the other (same
 * code hash). `--reconciler-zip` (CLI) overrides it; tests that want the tiny placeholder ask for it
 * (reconciler-function.ts placeholderBundle).
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { RECONCILER_PACKAGE } from '../contract/reconciler-package.js';
import type { ReconcilerBundle } from './resource.js';

/**
 * Where the zip is, seen from this module: bundled into dist/cli/index.js or dist/action/index.js it
 * sits next door (`../lambdas/reconciler.zip`); run from the sources (src/provision/*.ts, tsx,
 * vitest) it is the repository's dist/.
 */
export function reconcilerZipCandidates(from: string = import.meta.url): string[] {
  return [RECONCILER_PACKAGE.zipPathFromAction, '../../dist/lambdas/reconciler.zip']
    .map((rel) => new URL(rel, from))
    .filter((u) => u.protocol === 'file:')
    .map((u) => fileURLToPath(u));
}

let cached: ReconcilerBundle | undefined;

/** The shipped reconciler bundle; a clear error when the package has none (a checkout without a build). */
export function defaultReconcilerBundle(): ReconcilerBundle {
  if (cached) return cached;
  const candidates = reconcilerZipCandidates();
  const path = candidates.find((p) => existsSync(p));
  if (!path) {
    throw new Error(
      `the reconciler's Lambda package is missing (looked for ${candidates.join(', ')}): run \`npm run build\` to make dist/lambdas/reconciler.zip, or pass --reconciler-zip PATH`,
    );
  }
  cached = reconcilerBundleFromZip(new Uint8Array(readFileSync(path)));
  return cached;
}

/** A zip of the reconciler (index.mjs exporting `handler`) deployed as RECONCILER_PACKAGE says. */
export function reconcilerBundleFromZip(zip: Uint8Array): ReconcilerBundle {
  return { zip, handler: RECONCILER_PACKAGE.handler, runtime: RECONCILER_PACKAGE.runtime };
}
