/**
 * The provisioner against AWS contracts moto does not model (test/support/aws-strict.ts adds them):
 * the CLI and the Action deploy the same reconciler bundle; a Pending function is waited for before
 * its concurrency is set; the function's asynchronous-event settings are managed like its other
 * settings; destroy does not outwait its caller when network interfaces linger; the status document
 * never needs a tier SSM refuses.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateFunctionCommand,
  DeleteFunctionEventInvokeConfigCommand,
  PutFunctionConcurrencyCommand,
} from '@aws-sdk/client-lambda';
import {
  GetParameterCommand,
  PutParameterCommand,
  type ServiceInputTypes,
  type ServiceOutputTypes,
  SSMClient,
  type SSMClientResolvedConfig,
} from '@aws-sdk/client-ssm';
import { type AwsStub, mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createAwsEngine } from '../../src/action/engine-aws.js';
import type { AwsClients } from '../../src/adapters/aws/clients.js';
import { createParameterPort } from '../../src/adapters/aws/heal-ports.js';
import { codeSha256, getFunction } from '../../src/adapters/aws/lambda.js';
import { main } from '../../src/cli/main.js';
import { parseSpec } from '../../src/cluster-spec/load.js';
import type { ClusterSpec } from '../../src/cluster-spec/schema.js';
import { RECONCILER_PACKAGE } from '../../src/contract/reconciler-package.js';
import { applyPlan, destroy, ProvisionError } from '../../src/provision/apply.js';
import { planCluster } from '../../src/provision/plan.js';
import { defaultReconcilerBundle, reconcilerZipCandidates } from '../../src/provision/reconciler-bundle.js';
import type { DesiredFunction } from '../../src/provision/reconciler-function.js';
import { placeholderBundle } from '../../src/provision/reconciler-function.js';
import { lingeringInterfaces, pendingFunctions } from '../support/aws-strict.js';
import { clients, ensureReconcilerRole } from '../support/provision-support.js';

const endpoint = inject('motoEndpoint');
const REGION = 'me-central-1';

/** examples/three-zones.yaml as cluster `name` with its own CIDR, as text (for the CLI) and parsed. */
function specFile(name: string, cidr: string): { file: string; spec: ClusterSpec } {
  const text = readFileSync('examples/three-zones.yaml', 'utf8')
    .replace('name: demo-eu', `name: ${name}`)
    .replace('region: eu-west-1', `region: ${REGION}`)
    .replace('cidr: 10.40.0.0/16', `cidr: ${cidr}`)
    .replaceAll(/eu-west-1([abc])/g, `${REGION}$1`);
  const file = join(mkdtempSync(join(tmpdir(), 'tripod-contract-')), 'cluster.yaml');
  writeFileSync(file, text);
  const r = parseSpec(text, file);
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  return { file, spec: r.spec };
}

async function cli(...args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main([...args, '--endpoint-url', endpoint], {
    out: (t) => out.push(t),
    err: (t) => err.push(t),
  });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

/** The Action's engine, pointed at moto the way a workflow points it at a local endpoint. */
async function withActionEngine<T>(run: (e: ReturnType<typeof createAwsEngine>) => Promise<T>): Promise<T> {
  const saved = process.env.AWS_ENDPOINT_URL;
  process.env.AWS_ENDPOINT_URL = endpoint;
  const engine = createAwsEngine(REGION, { TRIPOD_AWS_MAX_ATTEMPTS: '1' });
  try {
    return await run(engine);
  } finally {
    if (saved === undefined) delete process.env.AWS_ENDPOINT_URL;
    else process.env.AWS_ENDPOINT_URL = saved;
  }
}

const noProgress = { allowDestructive: false, signal: new AbortController().signal, onProgress() {} };

let aws: AwsClients;
beforeAll(async () => {
  await ensureReconcilerRole(
    endpoint,
    'pt-bundle0',
    'pt-bundle1',
    'pt-bundle2',
    'pt-pending',
    'pt-async',
    'pt-eni',
  );
  aws = clients(endpoint, REGION);
});
afterAll(() => aws?.destroy());

describe('the reconciler bundle: the CLI and the Action deploy the same one', () => {
  it('by default the desired function is the shipped bundle, not the placeholder', async () => {
    const { spec } = specFile('pt-bundle0', '10.61.0.0/16');
    const state = await planCluster(aws, spec);
    const fn = state.desired!.resources.find((r) => r.key === 'fn/reconciler')!.value as DesiredFunction;
    const shipped = readFileSync(reconcilerZipCandidates().find((p) => p.includes('dist'))!);
    expect(codeSha256(fn.bundle.zip)).toBe(codeSha256(shipped));
    expect(codeSha256(fn.bundle.zip)).not.toBe(codeSha256(placeholderBundle().zip));
    expect(fn.bundle).toBe(defaultReconcilerBundle());
  });

  it('after an apply by the Action, a CLI plan is a no-op (same code hash)', async () => {
    const { file, spec } = specFile('pt-bundle1', '10.62.0.0/16');
    await withActionEngine(async (engine) => {
      const view = await engine.plan(spec);
      await engine.apply(spec, view, noProgress);
    });
    const deployed = await getFunction(aws, 'pt-bundle1-reconciler');
    expect(deployed!.codeSha256).toBe(codeSha256(defaultReconcilerBundle().zip));
    const r = await cli('plan', '-f', file, '--detailed-exitcode');
    expect(r.out).toMatch(/No changes/i);
    expect(r.code).toBe(0);
  });

  it('after an apply by the CLI, an Action plan is a no-op; --reconciler-zip is documented', async () => {
    const { file, spec } = specFile('pt-bundle2', '10.63.0.0/16');
    expect((await cli('apply', '-f', file)).code).toBe(0);
    const view = await withActionEngine((engine) => engine.plan(spec));
    expect(view.hasChanges).toBe(false);
    const help = await cli('apply', '--help');
    expect(help.out).toMatch(
      /--reconciler-zip <path> +deploy this reconciler Lambda package instead of the shipped one/,
    );
  });
});

describe('the reconciler function against Lambda contracts', () => {
  it('a new function is Pending: apply waits until it is Active before PutFunctionConcurrency', async () => {
    const { spec } = specFile('pt-pending', '10.64.0.0/16');
    const strict = clients(endpoint, REGION);
    const seen = pendingFunctions(strict, 2);
    const progress: string[] = [];
    try {
      await applyPlan(await planCluster(strict, spec, { reconcilerBundle: placeholderBundle() }), {
        onProgress: (e) => progress.push(e.message),
      });
    } finally {
      strict.destroy();
    }
    expect(seen.polls).toEqual(['Pending', 'Pending', 'Active']);
    expect(progress.join('\n')).toMatch(
      /function pt-pending-reconciler is Pending \(last update InProgress\) after \d+ s, waiting/,
    );
    const fn = await getFunction(aws, 'pt-pending-reconciler');
    expect(fn!.config.reservedConcurrency).toBe(RECONCILER_PACKAGE.reservedConcurrency);
  });

  it('the test world refuses PutFunctionConcurrency on a Pending function, as Lambda does', async () => {
    const strict = clients(endpoint, REGION);
    pendingFunctions(strict, 1);
    const b = placeholderBundle();
    try {
      await strict.lambda.send(
        new CreateFunctionCommand({
          FunctionName: 'pt-pending-raw',
          Role: 'arn:aws:iam::123456789012:role/tripod-pt-pending-reconciler',
          Handler: b.handler,
          Runtime: b.runtime as never,
          Code: { ZipFile: b.zip },
        }),
      );
      // What the old createFunction did next.
      await expect(
        strict.lambda.send(
          new PutFunctionConcurrencyCommand({
            FunctionName: 'pt-pending-raw',
            ReservedConcurrentExecutions: 1,
          }),
        ),
      ).rejects.toThrow(/currently in the following state: Pending/);
    } finally {
      strict.destroy();
    }
  });

  it('asynchronous events: short maximum age and few retries, and drift is planned and repaired', async () => {
    const { spec } = specFile('pt-async', '10.66.0.0/16');
    await applyPlan(await planCluster(aws, spec, { reconcilerBundle: placeholderBundle() }));
    const fn = await getFunction(aws, 'pt-async-reconciler');
    expect(fn!.config.eventInvoke).toEqual(RECONCILER_PACKAGE.eventInvoke);
    expect(RECONCILER_PACKAGE.eventInvoke.maximumEventAgeSeconds).toBeLessThanOrEqual(300);
    // Someone removes it: Lambda's defaults (6 hours, 2 retries) are back.
    await aws.lambda.send(
      new DeleteFunctionEventInvokeConfigCommand({ FunctionName: 'pt-async-reconciler' }),
    );
    const drift = await planCluster(aws, spec, { reconcilerBundle: placeholderBundle() });
    expect(drift.plan.changes.map((c) => [c.key, c.changes.map((x) => x.field)])).toEqual([
      ['fn/reconciler', ['eventInvoke']],
    ]);
    await applyPlan(drift);
    expect((await planCluster(aws, spec, { reconcilerBundle: placeholderBundle() })).plan.changes).toEqual(
      [],
    );
  });

  it('the instance-state rule forwards only instances going away', async () => {
    const { spec } = specFile('pt-async', '10.66.0.0/16');
    const state = await planCluster(aws, spec, { reconcilerBundle: placeholderBundle() });
    const rule = state.desired!.resources.find((r) => r.key === 'rule/instance-state')!.value as {
      eventPattern: { detail: { state: string[] } };
    };
    expect(rule.eventPattern.detail.state.sort()).toEqual([
      'shutting-down',
      'stopped',
      'stopping',
      'terminated',
    ]);
  });
});

describe('destroy and lingering network interfaces', () => {
  it('deletes everything else first, stops at the deadline with "run destroy again", and a rerun finishes', async () => {
    const { spec } = specFile('pt-eni', '10.67.0.0/16');
    await applyPlan(await planCluster(aws, spec, { reconcilerBundle: placeholderBundle() }));
    const strict = clients(endpoint, REGION);
    let lingering = true;
    const subnets = new Set<string>();
    const shown = await planCluster(strict, spec, { destroy: true });
    for (const c of shown.plan.changes)
      if (c.kind === 'subnet' && c.key.includes('private')) subnets.add(c.id!);
    const log = lingeringInterfaces(strict, (id) => lingering && subnets.has(id));
    const progress: string[] = [];
    const started = Date.now();
    const e = await destroy(strict, spec, {
      shown,
      deadline: Date.now() + 3_000,
      onProgress: (p) => progress.push(p.message),
    }).catch((x) => x);
    const took = Date.now() - started;
    expect(e).toBeInstanceOf(ProvisionError);
    expect((e as Error).message).toMatch(
      /subnet .* still in use at the deadline \(most likely by the reconciler function's network interfaces.*run destroy again later to finish: it deletes only what is left/s,
    );
    expect(took).toBeLessThan(20_000);
    expect(log.refused.length).toBeGreaterThan(0);
    // Everything that does not need the subnets went first: the function, groups, load balancers.
    const deleted = progress.filter((m) => m.startsWith('deleted '));
    for (const what of ['reconciler function', 'load balancer', 'masters group'])
      expect(
        deleted.some((m) => m.includes(what)),
        what,
      ).toBe(true);
    expect(progress.join('\n')).toMatch(/is still in use: deleting the rest first/);
    // Lambda lets the interfaces go; the rerun deletes what is left.
    lingering = false;
    await destroy(strict, spec, {});
    expect((await planCluster(strict, spec, { destroy: true })).plan.changes).toEqual([]);
    strict.destroy();
  });
});

describe('the status document and SSM tiers', () => {
  /** SSM's tier rules: Standard holds 4 KB; an Advanced parameter never goes back to Standard. */
  function ssmWithTiers(ssm: AwsStub<ServiceInputTypes, ServiceOutputTypes, SSMClientResolvedConfig>) {
    const tiers = new Map<string, string>();
    ssm.on(PutParameterCommand).callsFake((input: { Name: string; Value: string; Tier?: string }) => {
      const size = Buffer.byteLength(input.Value);
      const before = tiers.get(input.Name);
      const asked = input.Tier ?? 'Standard';
      const tier =
        asked === 'Intelligent-Tiering'
          ? before === 'Advanced' || size > 4096
            ? 'Advanced'
            : 'Standard'
          : asked;
      if (tier === 'Standard' && before === 'Advanced')
        throw Object.assign(
          new Error(
            'This parameter uses the advanced-parameter tier. You cannot downgrade a parameter from the advanced-parameter tier to the standard-parameter tier.',
          ),
          { name: 'ValidationException' },
        );
      if (tier === 'Standard' && size > 4096)
        throw Object.assign(
          new Error('Standard tier parameters support a maximum parameter value of 4096 characters.'),
          { name: 'ValidationException' },
        );
      tiers.set(input.Name, tier);
      return { Version: 1, Tier: tier };
    });
    ssm.on(GetParameterCommand).resolves({});
    return tiers;
  }

  it('a document that once outgrew 4 KB can still be written small again', async () => {
    // Mocks every SSMClient while it runs (the prototype): restored before anything else uses SSM.
    const ssm = mockClient(SSMClient);
    try {
      const tiers = ssmWithTiers(ssm);
      const port = createParameterPort(new SSMClient({ region: REGION }));
      await port.put('/tripod/x/status', 'x'.repeat(5000));
      expect(tiers.get('/tripod/x/status')).toBe('Advanced');
      await port.put('/tripod/x/status', '{"small":true}');
      await port.put('/tripod/x/status', 'y'.repeat(100));
      const tiersAsked = ssm.commandCalls(PutParameterCommand).map((c) => c.args[0].input.Tier);
      expect(new Set(tiersAsked)).toEqual(new Set(['Intelligent-Tiering']));
    } finally {
      ssm.restore();
    }
  });
});
