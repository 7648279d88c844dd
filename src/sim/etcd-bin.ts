/**
 * Where this machine's etcd, etcdctl and etcdutl are: the one place tests, `tripod sandbox` and the
 * benchmarks find them. scripts/setup.sh builds them from tools/etcd/go.mod into `.tripod/bin/` of
 * the checkout, at the version the nodes install (src/cluster-spec/versions.ts).
 *
 * Looked for, in order: `$TRIPOD_ETCD_BIN_DIR`, `<checkout>/.tripod/bin`, then `PATH`. A binary
 * found is asked its version; one below kubeadm's minimum, or of another MAJOR.MINOR than the
 * pinned release (Debian's etcd-server 3.4, say) is refused with an error that says what to run,
 * never used silently.
 */
import { execFileSync } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  compareVersions,
  ETCD_VERSION,
  KUBEADM_MIN_EXTERNAL_ETCD,
  parseVersion,
} from '../cluster-spec/versions.js';

export type EtcdTool = 'etcd' | 'etcdctl' | 'etcdutl';

export class EtcdBinaryError extends Error {
  override name = 'EtcdBinaryError';
}

const SETUP_HINT = `build it with: bash scripts/setup.sh (builds etcd ${ETCD_VERSION} with Go into .tripod/bin)`;

/** The checkout this module runs from (the nearest directory with a package.json), if any. */
function checkoutRoot(): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const up = dirname(dir);
    if (up === dir) return undefined;
    dir = up;
  }
}

/** The project-local directory setup.sh builds into. */
export function projectEtcdBinDir(): string | undefined {
  const root = checkoutRoot();
  return root ? join(root, '.tripod', 'bin') : undefined;
}

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The lowest etcd any supported kubeadm accepts (the highest MinExternalEtcdVersion). */
export function lowestAcceptedEtcd(): string {
  return Object.values(KUBEADM_MIN_EXTERNAL_ETCD).reduce((a, b) => (compareVersions(a, b) >= 0 ? a : b));
}

/**
 * Why an etcd of `version` must not stand in for the pinned release, or undefined when it may: it
 * must be on the pinned MAJOR.MINOR (3.5: same flags, same gateway) and at least what kubeadm accepts.
 */
export function etcdVersionProblem(version: string): string | undefined {
  const v = parseVersion(version);
  const pinned = parseVersion(ETCD_VERSION)!;
  if (!v) return `its version "${version}" cannot be read`;
  const min = lowestAcceptedEtcd();
  if (v[0] !== pinned[0] || v[1] !== pinned[1] || compareVersions(version, min) < 0) {
    return `it is etcd ${version}; tripod runs etcd ${ETCD_VERSION} (the version the masters install; kubeadm refuses an external etcd below ${min}, and ${pinned[0]}.${pinned[1]}.x is the line tested)`;
  }
  return undefined;
}

/** What a tool binary says its version is (`etcd --version`, `etcdctl version`, `etcdutl version`). */
export function toolVersion(tool: EtcdTool, path: string): string {
  const out = execFileSync(path, tool === 'etcd' ? ['--version'] : ['version'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ETCDCTL_API: '3' },
  });
  const m = /version:\s*v?(\d+\.\d+\.\d+)/i.exec(out);
  if (!m)
    throw new EtcdBinaryError(`${path} did not say its version (got ${JSON.stringify(out.slice(0, 80))})`);
  return m[1]!;
}

const found = new Map<EtcdTool, { path: string; version: string }>();

/**
 * The path and version of `tool` (cached per process). Throws an `EtcdBinaryError` that says how
 * to get the right one when it is missing or of a refused version.
 */
export function locateEtcdTool(tool: EtcdTool = 'etcd'): { path: string; version: string } {
  const cached = found.get(tool);
  if (cached) return cached;
  const dirs: string[] = [];
  const envDir = process.env.TRIPOD_ETCD_BIN_DIR;
  if (envDir) dirs.push(envDir);
  const local = projectEtcdBinDir();
  if (local) dirs.push(local);
  dirs.push(...(process.env.PATH ?? '').split(delimiter).filter(Boolean));
  const path = dirs.map((d) => join(d, tool)).find(executable);
  if (!path) {
    throw new EtcdBinaryError(
      `${tool} not found (looked in ${[envDir && '$TRIPOD_ETCD_BIN_DIR', local, 'PATH'].filter(Boolean).join(', ')}): ${SETUP_HINT}`,
    );
  }
  let version: string;
  try {
    version = toolVersion(tool, path);
  } catch (e) {
    throw new EtcdBinaryError(`${path} does not run (${(e as Error).message.split('\n')[0]}): ${SETUP_HINT}`);
  }
  const problem = etcdVersionProblem(version);
  if (problem)
    throw new EtcdBinaryError(
      `refusing ${path}: ${problem}. ${SETUP_HINT[0]!.toUpperCase()}${SETUP_HINT.slice(1)}`,
    );
  const result = { path, version };
  found.set(tool, result);
  return result;
}

/** The etcd server binary's path (see `locateEtcdTool`). */
export const etcdBinary = (): string => locateEtcdTool('etcd').path;
