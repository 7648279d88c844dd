/**
 * scripts/lambda-bundle.mjs `sharedClientModules`: a client's copy of runtimeExtensions.js is replaced
 * by another client's byte-identical copy. The copies import packages by bare name
 * (`@aws-sdk/core/client`, `@smithy/core/client`, ...), which resolve from the directory of the copy
 * that is bundled: so a client with packages of its own (a nested node_modules, as npm installs when
 * two clients need different versions) must keep its own copy, or its extensions would run the other
 * client's versions of those packages.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { afterAll, describe, expect, it } from 'vitest';
// @ts-expect-error: a plain ESM build script without type declarations
import { sharedClientModules } from '../../scripts/lambda-bundle.mjs';

const work = mkdtempSync(join(tmpdir(), 'tripod-shared-modules-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const put = (path: string, text: string) => {
  mkdirSync(dirname(join(work, path)), { recursive: true });
  writeFileSync(join(work, path), text);
};

// Two clients with byte-identical modules importing a package `dep`; client-b has its own `dep`.
const RUNTIME_EXTENSIONS =
  "import { version } from 'dep';\nimport { auth } from './auth/httpAuthExtensionConfiguration';\nexport const resolveRuntimeExtensions = () => version + ' ' + auth;\n";
const AUTH = "export const auth = 'auth';\n";
for (const c of ['client-a', 'client-b']) {
  put(`node_modules/@aws-sdk/${c}/dist-es/runtimeExtensions.js`, RUNTIME_EXTENSIONS);
  put(`node_modules/@aws-sdk/${c}/dist-es/auth/httpAuthExtensionConfiguration.js`, AUTH);
  put(
    `node_modules/@aws-sdk/${c}/dist-es/index.js`,
    "export { resolveRuntimeExtensions } from './runtimeExtensions';\n",
  );
}
put('node_modules/dep/index.js', "export const version = 'dep 1';\n");
put('node_modules/@aws-sdk/client-b/node_modules/dep/index.js', "export const version = 'dep 2';\n");

async function bundle(name: string, withClientC: boolean) {
  if (withClientC) {
    for (const f of ['runtimeExtensions.js', 'auth/httpAuthExtensionConfiguration.js', 'index.js'])
      put(
        `node_modules/@aws-sdk/client-c/dist-es/${f}`,
        f === 'index.js'
          ? "export { resolveRuntimeExtensions } from './runtimeExtensions';\n"
          : f === 'runtimeExtensions.js'
            ? RUNTIME_EXTENSIONS
            : AUTH,
      );
  }
  const outfile = join(work, `${name}.mjs`);
  const result = await build({
    stdin: {
      contents: [
        "import { resolveRuntimeExtensions as a } from './node_modules/@aws-sdk/client-a/dist-es/index.js';",
        "import { resolveRuntimeExtensions as b } from './node_modules/@aws-sdk/client-b/dist-es/index.js';",
        withClientC
          ? "import { resolveRuntimeExtensions as c } from './node_modules/@aws-sdk/client-c/dist-es/index.js';"
          : 'const c = () => undefined;',
        'export const versions = { a: a(), b: b(), c: c() };',
      ].join('\n'),
      resolveDir: work,
      loader: 'js',
    },
    bundle: true,
    platform: 'node',
    format: 'esm',
    outfile,
    write: false,
    plugins: [sharedClientModules],
    logLevel: 'silent',
  });
  const text = result.outputFiles[0]!.text;
  writeFileSync(outfile, text);
  const versions = (await import(pathToFileURL(outfile).href)).versions as Record<string, string | undefined>;
  // One `auth = "auth"` per bundled copy of httpAuthExtensionConfiguration.js.
  return { versions, copies: text.match(/= "auth"/g)?.length ?? 0 };
}

describe('the Lambda bundle: shared client modules', () => {
  it('a client with its own node_modules keeps its own copy (its packages, not the other client’s)', async () => {
    expect(await bundle('nested', false)).toEqual({
      versions: { a: 'dep 1 auth', b: 'dep 2 auth', c: undefined },
      copies: 2,
    });
  });

  it('clients without packages of their own still share one copy', async () => {
    // client-c shares client-a's copy; client-b keeps its own.
    expect(await bundle('shared', true)).toEqual({
      versions: { a: 'dep 1 auth', b: 'dep 2 auth', c: 'dep 1 auth' },
      copies: 2,
    });
  });
});
