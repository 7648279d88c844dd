// esbuild options for the reconciler Lambda bundle (used by build.mjs and bench/lambda.ts).
// Two size measures on top of esbuild's tree shaking (1.5 MB -> see bench/lambda.ts):
//  - pureSdkSchemas: the SDK clients' schema modules write keys as `{ [_xN]: _y }` with the key in a
//    module constant; esbuild cannot prove a computed key pure, so it keeps every schema of the
//    service (EC2: 540 KB). Inlining the constant keys lets it drop the unused ones. Same values.
//    It also drops the registration of the service's modeled errors (SSM: 140 classes, ~40 KB): an
//    unregistered error still arrives as the service's base exception with the AWS error code as its
//    `name` and AWS's message, which is all tripod reads (errors.ts).
//  - the default credential chain is replaced with environment credentials (src/lambdas/env-credentials.ts).
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';

/**
 * The SDK clients import their whole package.json (~2 KB each, once per client) for one field: the
 * version in the user agent. Only that field is kept.
 */
export const sdkPackageVersion = {
  name: 'sdk-package-version',
  setup(build) {
    build.onLoad({ filter: /@aws-sdk[\\/]client-[^\\/]+[\\/]package\.json$/ }, (args) => {
      const { version } = JSON.parse(readFileSync(args.path, 'utf8'));
      return { contents: JSON.stringify({ version }), loader: 'json' };
    });
  },
};

/**
 * Smithy's Sha256Node falls back to a pure-JavaScript SHA-256 when node:crypto has none; Lambda's
 * Node always has it (FIPS mode included), so the fallback is replaced by a class that says so.
 */
export const nativeSha256Only = {
  name: 'native-sha256-only',
  setup(build) {
    build.onLoad({ filter: /@smithy[\\/]core[\\/]dist-es[\\/].*[\\/]sha256[\\/]Sha256Js\.js$/ }, () => ({
      contents: "export class Sha256Js { constructor() { throw new Error('node:crypto has no sha256'); } }\n",
      loader: 'js',
    }));
  },
};

export const pureSdkSchemas = {
  name: 'pure-sdk-schemas',
  setup(build) {
    build.onLoad(
      { filter: /@aws-sdk[\\/]client-[^\\/]+[\\/]dist-es[\\/]schemas[\\/]schemas_\d+\.js$/ },
      (args) => {
        const text = readFileSync(args.path, 'utf8');
        const consts = new Map(
          [...text.matchAll(/^const (_\w+) = ("[^"\n]*");$/gm)].map((m) => [m[1], m[2]]),
        );
        const contents = text
          .replace(/\[(_\w+)\]:/g, (all, name) => (consts.has(name) ? `${consts.get(name)}:` : all))
          .replace(/^n0_registry\.registerError\(\w+\$, \w+\);$/gm, '');
        return { contents, loader: 'js' };
      },
    );
  },
};

/** Options for the optimized bundle (root: the repository). */
export function lambdaBundleOptions(root = '.', { eventStreams = false } = {}) {
  return {
    bundle: true,
    platform: 'node',
    format: 'esm',
    // Lambda nodejs22.x (arm64: the bundle is plain JavaScript, no native modules).
    target: 'node22',
    minify: true,
    legalComments: 'none',
    mainFields: ['module', 'main'],
    plugins: [pureSdkSchemas, sdkPackageVersion, nativeSha256Only],
    // Event streams are loaded lazily (a dynamic import) only for event-stream operations, which the
    // reconciler never calls (S3's client imports them statically: the snapshot module keeps them).
    // `bowser` is the SDK's browser user-agent parser (a dynamic import never taken on Node).
    external: eventStreams ? ['bowser'] : ['@smithy/core/event-streams', 'bowser'],
    alias: { '@aws-sdk/credential-provider-node': resolve(root, 'src/lambdas/env-credentials.ts') },
  };
}

/** The files of a built Lambda folder that go into its zip (code only, sorted: a reproducible zip). */
export function lambdaZipFiles(dir) {
  return readdirSync(dir, { recursive: true })
    .map(String)
    .filter((f) => f.endsWith('.mjs'))
    .sort()
    .map((f) => ({ name: relative(dir, join(dir, f)).split('\\').join('/'), path: join(dir, f) }));
}
