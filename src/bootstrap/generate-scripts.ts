/**
 * Embeds the node scripts (src/bootstrap/scripts/*.sh) in src/bootstrap/scripts.generated.ts as string
 * constants, so the renderer works the same under tsx, vitest and the esbuild bundles in dist/ without
 * a loader or files next to the bundle. Run `npm run bootstrap-scripts` after editing a script; a test
 * (test/integration/bootstrap-render.test.ts) fails while the generated file is stale.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const scriptsDir = new URL('./scripts/', import.meta.url);
export const generatedScriptsPath = fileURLToPath(new URL('./scripts.generated.ts', import.meta.url));

/** The script files, by name, as they are on disk. */
export function readScripts(): Record<string, string> {
  const names = readdirSync(scriptsDir)
    .filter((n) => n.endsWith('.sh'))
    .sort();
  return Object.fromEntries(names.map((n) => [n, readFileSync(new URL(n, scriptsDir), 'utf8')]));
}

const templateLiteral = (s: string) =>
  '`' + s.replace(/\\/g, '\\\\').replace(/`/g, '\\`').replace(/\$\{/g, '\\${') + '`';

/** The source of scripts.generated.ts for the given scripts (formatted as Biome would). */
export function generatedScriptsModule(scripts: Record<string, string> = readScripts()): string {
  const entries = Object.entries(scripts).map(([name, text]) => `  '${name}': ${templateLiteral(text)},\n`);
  return [
    '// Generated from src/bootstrap/scripts/*.sh by `npm run bootstrap-scripts` (src/bootstrap/generate-scripts.ts).\n',
    '// Do not edit: edit the scripts and run the generator.\n',
    'export const BOOTSTRAP_SCRIPTS: Readonly<Record<string, string>> = {\n',
    ...entries,
    '};\n',
  ].join('');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeFileSync(generatedScriptsPath, generatedScriptsModule());
  console.log(`wrote ${generatedScriptsPath}`);
}
