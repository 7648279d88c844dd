/**
 * Provisioner figures against a local moto server: AWS API calls and wall time for the plan of a new
 * 3-zone cluster, its apply, a no-op plan, and a no-op plan with the worker group at 1,000 instances
 * (goal: a no-op plan in at most 25 calls, whatever the number of instances).
 *
 *   npx tsx bench/provision.ts            # starts its own moto (needs .venv from scripts/setup.sh)
 *   AWS_ENDPOINT_URL=http://127.0.0.1:5000 npx tsx bench/provision.ts   # or use a running one
 */
import { readFileSync } from 'node:fs';
import { CreateRoleCommand, IAMClient } from '@aws-sdk/client-iam';
import { describeGroups } from '../src/adapters/aws/autoscaling.js';
import { createAwsClients } from '../src/adapters/aws/clients.js';
import { parseSpec } from '../src/cluster-spec/load.js';
import type { ClusterSpec } from '../src/cluster-spec/schema.js';
import { DEFAULT_RECONCILER_ROLE } from '../src/contract/names.js';
import { applyPlan, destroy } from '../src/provision/apply.js';
import { planCluster } from '../src/provision/plan.js';
import { startMoto } from '../test/support/moto.js';

const REGION = 'eu-west-2';
const WORKERS = 1000;

async function main() {
  const own = process.env.AWS_ENDPOINT_URL ? undefined : await startMoto();
  const endpoint = own?.endpoint ?? process.env.AWS_ENDPOINT_URL!;
  const credentials = { accessKeyId: 'bench', secretAccessKey: 'bench' };
  const name = `bench-${Date.now().toString(36)}`;
  try {
    const iam = new IAMClient({ region: 'us-east-1', endpoint, maxAttempts: 1, credentials });
    await iam
      .send(
        new CreateRoleCommand({ RoleName: DEFAULT_RECONCILER_ROLE(name), AssumeRolePolicyDocument: '{}' }),
      )
      .catch(() => undefined);
    iam.destroy();

    const text = readFileSync('examples/three-zones.yaml', 'utf8')
      .replace('name: demo-eu', `name: ${name}`)
      .replace('region: eu-west-1', `region: ${REGION}`)
      .replaceAll(/eu-west-1([abc])/g, `${REGION}$1`);
    const parsed = parseSpec(text);
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems));
    const spec = parsed.spec;
    const aws = createAwsClients({ region: REGION, endpoint, maxAttempts: 1, credentials });
    const rows: Array<[string, number, number, string]> = [];

    const measure = async <T>(label: string, run: () => Promise<T>, note: (r: T) => string = () => '') => {
      aws.counter.reset();
      const t = performance.now();
      const r = await run();
      rows.push([label, aws.counter.total, performance.now() - t, note(r)]);
      return r;
    };

    const fresh = await measure(
      'plan, new cluster',
      () => planCluster(aws, spec),
      (s) => `${s.plan.summary.create} creates`,
    );
    await measure(
      'apply, new cluster',
      () => applyPlan(fresh),
      (r) => `${r.applied.length} changes`,
    );
    const calls: Record<string, number>[] = [];
    await measure(
      'plan, no changes (3 workers)',
      async () => {
        const s = await planCluster(aws, spec);
        calls.push(aws.counter.snapshot());
        return s;
      },
      (s) => (s.plan.hasChanges ? 'CHANGES?!' : 'no changes'),
    );

    const big: ClusterSpec = {
      ...spec,
      workers: { ...spec.workers, min: WORKERS, max: WORKERS, desired: WORKERS },
    };
    const scale = await planCluster(aws, big);
    await measure(
      `apply, workers 3 -> ${WORKERS}`,
      () => applyPlan(scale),
      (r) => `${r.applied.length} change(s)`,
    );
    const groups = await describeGroups(aws, [`${spec.name}-workers`]);
    const instances = groups[0]?.instances.length ?? 0;
    await measure(
      `plan, no changes (${instances} worker instances)`,
      async () => {
        const s = await planCluster(aws, big);
        calls.push(aws.counter.snapshot());
        return s;
      },
      (s) => (s.plan.hasChanges ? 'CHANGES?!' : 'no changes'),
    );
    await measure(
      'destroy',
      () => destroy(aws, big),
      (r) => `${r.applied.length} deletes`,
    );
    aws.destroy();

    console.log(`tripod provisioner against moto (${endpoint}), 3-zone cluster with its own VPC\n`);
    console.log(`${'step'.padEnd(42)} ${'API calls'.padStart(9)} ${'wall ms'.padStart(9)}  note`);
    for (const [label, n, ms, note] of rows) {
      console.log(`${label.padEnd(42)} ${String(n).padStart(9)} ${ms.toFixed(0).padStart(9)}  ${note}`);
    }
    const noop = rows.filter((r) => r[0].startsWith('plan, no changes')).map((r) => r[1]);
    console.log(
      `\nno-op plan: ${noop.join(' and ')} calls (goal <= 25, independent of instance count: ${noop.every((n) => n === noop[0]) ? 'yes' : 'NO'})`,
    );
    console.log('\nno-op plan calls by operation:');
    for (const [op, n] of Object.entries(calls.at(-1) ?? {})) console.log(`  ${op.padEnd(52)} ${n}`);
  } finally {
    await own?.stop();
  }
}

await main();
