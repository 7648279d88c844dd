import { relative } from 'node:path';
import { BaseSequencer, type TestSpecification } from 'vitest/node';
import { defineConfig } from 'vitest/config';

/**
 * Files that run far longer than the rest (seconds seen on a loaded 2-core machine): many short
 * processes (bats) or real etcd processes. Without timings of its own (a fresh checkout, CI), vitest
 * would start them by file size, some near the end, and one worker would run alone for minutes.
 */
const LONG_S: Record<string, number> = {
  'test/integration/bootstrap-bats.test.ts': 250,
  'test/integration/sandbox.test.ts': 100,
  'test/integration/upgrade-real-etcd.test.ts': 50,
  'test/integration/sim-real-etcd.test.ts': 50,
  'test/integration/heal-real-etcd.test.ts': 50,
  'test/integration/restore-etcd.test.ts': 30,
  'test/integration/action-e2e.test.ts': 30,
  'test/integration/etcd-client.test.ts': 20,
};

/**
 * Longest first, by the last run's duration (vitest's cache), at least LONG_S (a filtered run caches
 * a long file as short); ties keep vitest's order.
 */
class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const root = this.ctx.config.root;
    const expectedMs = (f: TestSpecification) => {
      const path = relative(root, f.moduleId);
      const cached = this.ctx.cache.getFileTestResults(`${f.project.name}:${path}`)?.duration ?? 0;
      return Math.max(cached, (LONG_S[path] ?? 0) * 1000);
    };
    const order = new Map(sorted.map((f, i) => [f, i]));
    return sorted.sort((a, b) => expectedMs(b) - expectedMs(a) || order.get(a)! - order.get(b)!);
  }
}

/** What both projects share; `unit` starts nothing, `integration` starts the moto server first. */
const shared = {
  testTimeout: 60_000,
  hookTimeout: 120_000,
  sequence: { sequencer: LongestFirst },
};

export default defineConfig({
  test: {
    pool: 'forks',
    maxWorkers: 2,
    projects: [
      {
        test: {
          ...shared,
          name: 'unit',
          // No server, no process: pure decisions, the simulator, renderers, parsers.
          include: ['test/unit/**/*.test.ts'],
        },
      },
      {
        test: {
          ...shared,
          name: 'integration',
          // moto, real etcd processes, bats, cfn-lint, actionlint, kubernetes-validate, local HTTP stubs.
          include: ['test/integration/**/*.test.ts'],
          globalSetup: ['test/support/global-setup.ts'],
        },
      },
    ],
  },
});
