/**
 * The reconciler bundle: size and cold start, side by side with the same handler bundled naively.
 *
 *   npx tsx bench/lambda.ts [runs]
 *
 * - tripod: scripts/lambda-bundle.mjs's options (tree-shaken SDK clients, env credentials, the
 *   snapshot code in its own lazily loaded file), as scripts/build.mjs ships it.
 * - naive: the same entry, minified, with every npm package left external (what you ship when the
 *   function carries its node_modules); its size counts the packages it loads from node_modules.
 * - etcd3: the gRPC client a naive reconciler would use for etcd. Measured when a throw-away install
 *   exists (TRIPOD_BENCH_ETCD3_DIR, default /tmp/etcd3-probe: `npm install --prefix /tmp/etcd3-probe
 *   etcd3`), never installed in the repository.
 *
 * Cold start = a fresh `node` process: import the bundle, then the first invocation (a foreign event:
 * validation, logging), then a no-op pass's setup (a scheduled event: SDK clients, signing, the first
 * SSM request, answered "connection refused" by a closed loopback port). Median of the runs.
 * `import CPU` is the process's CPU time (user + system, every thread) during the import: on a shared,
 * loaded machine the wall time counts the wait for a core too, the CPU time mostly does not.
 */
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { deflateRawSync } from 'node:zlib';
import { build } from 'esbuild';
// @ts-expect-error: a plain ESM build script without type declarations
import { lambdaBundleOptions } from '../scripts/lambda-bundle.mjs';

const RUNS = Number(process.argv[2] ?? 7);
const ENTRY = 'src/lambdas/reconciler.ts';
const SNAPSHOT_ENTRY = 'src/lambdas/snapshot.ts';
const BANNER =
  "import { createRequire as __tripodCreateRequire } from 'node:module';\nconst require = __tripodCreateRequire(import.meta.url);";

const kb = (n: number) => `${(n / 1024).toFixed(0)} KB`;
const ms = (n: number) => `${n.toFixed(1)} ms`;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const zipped = (path: string) => deflateRawSync(readFileSync(path), { level: 9 }).length;

function dirSize(dir: string): number {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) n += dirSize(p);
    else if (e.isFile()) n += statSync(p).size;
  }
  return n;
}

function closedPort(): Promise<number> {
  return new Promise((res) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => res(typeof a === 'object' && a ? a.port : 1));
    });
  });
}

const work = mkdtempSync(join('bench', '.lambda-'));
try {
  // ---- the tripod bundle ----
  const tripod = join(work, 'tripod', 'index.mjs');
  const snapshot = join(work, 'tripod', 'snapshot.mjs');
  mkdirSync(join(work, 'tripod'), { recursive: true });
  await build({
    entryPoints: [ENTRY],
    outfile: tripod,
    banner: { js: BANNER },
    logLevel: 'error',
    ...lambdaBundleOptions(),
  });
  await build({
    entryPoints: [SNAPSHOT_ENTRY],
    outfile: snapshot,
    banner: { js: BANNER },
    logLevel: 'error',
    ...lambdaBundleOptions('.', { eventStreams: true }),
  });

  // ---- the naive bundle: every package external ----
  const naive = join(work, 'naive', 'index.mjs');
  mkdirSync(join(work, 'naive'), { recursive: true });
  await build({
    entryPoints: [ENTRY],
    outfile: naive,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node22',
    minify: true,
    packages: 'external',
    logLevel: 'error',
  });
  // What it loads from node_modules: every package the full bundle draws from.
  const meta = await build({
    entryPoints: [ENTRY],
    bundle: true,
    platform: 'node',
    format: 'esm',
    write: false,
    metafile: true,
    outfile: join(work, 'meta.mjs'),
    logLevel: 'silent',
  });
  const packages = new Set<string>();
  for (const f of Object.keys(meta.metafile.inputs)) {
    const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(f);
    if (m) packages.add(m[1]!);
  }
  const naiveModules = [...packages].reduce((n, p) => n + dirSize(join('node_modules', p)), 0);

  // ---- etcd3 (throw-away install only) ----
  const etcd3Dir = process.env.TRIPOD_BENCH_ETCD3_DIR ?? '/tmp/etcd3-probe';
  const etcd3 = existsSync(join(etcd3Dir, 'node_modules', 'etcd3'))
    ? {
        modules: dirSize(join(etcd3Dir, 'node_modules')),
        entry: resolve(etcd3Dir, 'node_modules/etcd3/lib/index.js'),
      }
    : undefined;

  // ---- cold starts ----
  const port = await closedPort();
  const runner = resolve(work, 'runner.mjs');
  writeFileSync(
    runner,
    `const foreign = { version: '0', id: 'b', 'detail-type': 'Object Created', source: 'aws.s3', account: '1', time: 't', region: 'eu-west-1', resources: [], detail: {} };
const scheduled = { ...foreign, source: 'aws.events', 'detail-type': 'Scheduled Event' };
const t0 = performance.now();
const c0 = process.cpuUsage();
const m = await import(process.argv[2]);
if (process.argv[3]) await import(process.argv[3]);
const c1 = process.cpuUsage(c0);
const t1 = performance.now();
await m.handler(foreign);
const t2 = performance.now();
await m.handler(scheduled).catch(() => undefined);
const t3 = performance.now();
process.stderr.write('BENCH ' + JSON.stringify({ importMs: t1 - t0, importCpuMs: (c1.user + c1.system) / 1000, firstMs: t2 - t1, setupMs: t3 - t2 }) + '\\n');
`,
  );
  const env = {
    PATH: process.env.PATH,
    AWS_REGION: 'eu-west-1',
    AWS_ACCESS_KEY_ID: 'bench',
    AWS_SECRET_ACCESS_KEY: 'bench',
    AWS_ENDPOINT_URL: `http://127.0.0.1:${port}`,
    TRIPOD_CLUSTER: 'bench',
    TRIPOD_AWS_MAX_ATTEMPTS: '1',
    TRIPOD_LOG_LEVEL: 'SILENT',
    TRIPOD_METRICS_DISABLED: 'true',
    AWS_SDK_JS_SUPPRESS_NODE_DEPRECATION_WARNING: '1',
  };
  const cold = (bundle: string, extra?: string) => {
    const runs: Array<{
      importMs: number;
      importCpuMs: number;
      firstMs: number;
      setupMs: number;
      processMs: number;
    }> = [];
    for (let i = 0; i < RUNS; i++) {
      const t = performance.now();
      const r = spawnSync(process.execPath, [runner, resolve(bundle), ...(extra ? [extra] : [])], {
        env,
        encoding: 'utf8',
      });
      const processMs = performance.now() - t;
      const line = r.stderr.split('\n').find((l) => l.startsWith('BENCH '));
      if (!line) throw new Error(`${bundle}: ${r.stderr}`);
      runs.push({ ...JSON.parse(line.slice(6)), processMs });
    }
    return {
      importMs: median(runs.map((r) => r.importMs)),
      importCpuMs: median(runs.map((r) => r.importCpuMs)),
      firstMs: median(runs.map((r) => r.firstMs)),
      setupMs: median(runs.map((r) => r.setupMs)),
      processMs: median(runs.map((r) => r.processMs)),
    };
  };
  // Reference: the same runner around an empty module (node's own start-up and the runner's cost).
  const empty = join(work, 'empty.mjs');
  writeFileSync(empty, 'export const handler = async () => undefined;\n');
  const base = cold(empty);
  const a = cold(tripod);
  const b = cold(naive);
  const c = etcd3 ? cold(naive, etcd3.entry) : undefined;

  const rows: Array<[string, string, string, string, string, string, string, string]> = [
    [
      'tripod (index.mjs)',
      kb(statSync(tripod).size),
      kb(zipped(tripod)),
      ms(a.importMs),
      ms(a.importCpuMs),
      ms(a.firstMs),
      ms(a.setupMs),
      ms(a.processMs),
    ],
    ['  + snapshot.mjs (lazy)', kb(statSync(snapshot).size), kb(zipped(snapshot)), '-', '-', '-', '-', '-'],
    [
      'naive (node_modules)',
      `${kb(statSync(naive).size)} + ${kb(naiveModules)}`,
      '-',
      ms(b.importMs),
      ms(b.importCpuMs),
      ms(b.firstMs),
      ms(b.setupMs),
      ms(b.processMs),
    ],
  ];
  rows.push([
    '(empty module)',
    '-',
    '-',
    ms(base.importMs),
    ms(base.importCpuMs),
    ms(base.firstMs),
    ms(base.setupMs),
    ms(base.processMs),
  ]);
  if (etcd3 && c) {
    rows.push([
      'naive + etcd3 (gRPC)',
      `${kb(statSync(naive).size)} + ${kb(naiveModules + etcd3.modules)}`,
      '-',
      ms(c.importMs),
      ms(c.importCpuMs),
      ms(c.firstMs),
      ms(c.setupMs),
      ms(c.processMs),
    ]);
  }
  const head = [
    'bundle',
    'size (minified)',
    'deflated',
    'import',
    'import CPU',
    '1st event',
    'pass setup',
    'process',
  ];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ');
  console.log(
    `reconciler Lambda bundle, median of ${RUNS} fresh node processes (node ${process.version}, load average ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')} on ${cpus().length} CPUs)`,
  );
  console.log(line(head));
  for (const r of rows) console.log(line(r));
  if (!etcd3) {
    console.log(
      `etcd3 not measured (no throw-away install at ${etcd3Dir}); etcd-membership.md puts its gRPC stack at ~8 MB`,
    );
  }
  console.log(
    `goal: < 300,000 bytes minified (${statSync(tripod).size} bytes) and < 80 ms import (${ms(a.importMs)}; CPU ${ms(a.importCpuMs)})`,
  );
} finally {
  rmSync(work, { recursive: true, force: true });
}
