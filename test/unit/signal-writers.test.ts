/**
 * Issue 15, findings 2 and 3: IAM lets every node of a role write every instance's
 * `boot-failed/<id>` or `workers/drained/<id>`, so the reconciler counts such a signal only when SSM
 * says the instance's own role session wrote it (DescribeParameters' LastModifiedUser; an EC2
 * instance's session is named after the instance). A forged one is ignored with a log line.
 * moto reports LastModifiedUser "N/A": the adapter's request and reading are checked with
 * aws-sdk-client-mock, the reconciler with the fake ports, the simulator with its SSM.
 */
import { DescribeParametersCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { describe, expect, it } from 'vitest';
import { createSignalParameterPort } from '../../src/adapters/aws/parameter-writers.js';
import { bootFailureParameter, signalWriterProblem } from '../../src/contract/protocol.js';
import { observe } from '../../src/heal/observe.js';
import { reconcilePass } from '../../src/heal/reconcile.js';
import { workerDrainedParameter } from '../../src/heal/worker-hooks.js';
import { simulate } from '../../src/sim/run.js';
import { simSpec } from '../../src/sim/sim-spec.js';
import { ParameterStore, sessionArn } from '../../src/sim/ssm.js';
import type { Reconciler } from '../../src/sim/stub-reconciler.js';
import { fakeWorld, testConfig } from '../support/fake-ports.js';

const cfg = testConfig();
const session = (role: string, id: string) => `arn:aws:sts::123456789012:assumed-role/${role}/${id}`;
const master = (id: string) => session(`tripod-${cfg.cluster}-master`, id);

describe('signalWriterProblem', () => {
  it("accepts only the instance's own session of the expected role (any partition)", () => {
    expect(signalWriterProblem(master('i-3'), cfg.cluster, 'master', 'i-3')).toBeUndefined();
    expect(
      signalWriterProblem(
        `arn:aws-cn:sts::123456789012:assumed-role/tripod-${cfg.cluster}-worker/i-0abc`,
        cfg.cluster,
        'worker',
        'i-0abc',
      ),
    ).toBeUndefined();
    for (const writer of [
      master('i-4'), // another master
      session(`tripod-${cfg.cluster}-worker`, 'i-3'), // the worker role
      session(`tripod-${cfg.cluster}x-master`, 'i-3'), // another cluster's master role
      `arn:aws:iam::123456789012:user/admin`,
      'N/A', // moto
      undefined,
      `${master('i-3')}/extra`,
    ])
      expect(signalWriterProblem(writer, cfg.cluster, 'master', 'i-3')).toMatch(
        /^written by .*, not by i-3's own session \(assumed-role\/tripod-heal-test-master\/i-3\)$/,
      );
  });
});

describe('the AWS adapter reads LastModifiedUser with DescribeParameters', () => {
  it('filters by path (recursive, no trailing slash) and follows NextToken', async () => {
    const ssm = new SSMClient({
      region: 'eu-west-1',
      credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
    });
    const mock = mockClient(ssm);
    mock
      .on(DescribeParametersCommand)
      .resolvesOnce({
        Parameters: [{ Name: '/tripod/c/boot-failed/i-1', LastModifiedUser: master('i-1') }],
        NextToken: 't',
      })
      .resolvesOnce({ Parameters: [{ Name: '/tripod/c/boot-failed/i-2' }] });
    expect(await createSignalParameterPort(ssm).writers('/tripod/c/boot-failed/')).toEqual({
      '/tripod/c/boot-failed/i-1': master('i-1'),
      '/tripod/c/boot-failed/i-2': undefined,
    });
    const calls = mock.commandCalls(DescribeParametersCommand).map((c) => c.args[0].input);
    expect(calls).toEqual([
      { ParameterFilters: [{ Key: 'Path', Option: 'Recursive', Values: ['/tripod/c/boot-failed'] }] },
      {
        ParameterFilters: [{ Key: 'Path', Option: 'Recursive', Values: ['/tripod/c/boot-failed'] }],
        NextToken: 't',
      },
    ]);
  });
});

describe('boot-failed counts only when the master wrote it itself', () => {
  it('a forged record (another master, or the reconciler itself) is ignored with a log line', async () => {
    const w = fakeWorld(3);
    const name = bootFailureParameter(cfg.cluster, 'i-3');
    w.ports.parameters.putAs(master('i-2'), name, 'forged by a pod on i-2');
    const first = await observe(w.ports, cfg);
    expect(first.observed.group.instances.find((i) => i.instanceId === 'i-3')!.bootFailed).toBe(false);
    expect(first.ignoredSignals).toEqual([
      `ignored ${name}: written by ${master('i-2')}, not by i-3's own session (assumed-role/tripod-heal-test-master/i-3)`,
    ]);
    const pass = await reconcilePass(w.ports, cfg);
    expect(pass.ignoredSignals).toEqual(first.ignoredSignals);

    w.ports.parameters.putAs(master('i-3'), name, 'kubeadm init failed');
    const second = await observe(w.ports, cfg);
    expect(second.observed.group.instances.find((i) => i.instanceId === 'i-3')!.bootFailed).toBe(true);
    expect(second.ignoredSignals).toEqual([]);
  });
});

describe('the simulator records who wrote each parameter', () => {
  it('a put names its writer; unknown writers stay unknown', () => {
    const ssm = new ParameterStore();
    const name = workerDrainedParameter('c', 'i-1');
    ssm.put(name, 'x', false, sessionArn('tripod-c-worker', 'i-1'));
    ssm.put('/tripod/c/status', '{}');
    expect(ssm.writers('/tripod/c/')).toEqual({
      [name]: 'arn:aws:sts::123456789012:assumed-role/tripod-c-worker/i-1',
      '/tripod/c/status': undefined,
    });
    expect(
      signalWriterProblem(ssm.writers('/tripod/c/workers/')[name], 'c', 'worker', 'i-1'),
    ).toBeUndefined();
  });
});

describe('in the simulator', () => {
  const base = {
    cluster: 'sig',
    region: 'eu-west-1',
    zones: ['eu-west-1a', 'eu-west-1b', 'eu-west-1c'],
    masters: 3,
  };

  it("a master's own boot-failed record abandons its launch at once (the node writes as its session)", async () => {
    const r = await simulate({
      seed: 5,
      spec: simSpec(base),
      // No warm pool: the first boot is then a master's launch, not a pool instance's prepare.
      warmPool: { size: 0 },
      schedule: { faults: [{ at: 0, kind: 'boot-failure', pick: 0, count: 1, record: true }], end: 60_000 },
      convergeWithinMs: 40 * 60_000,
    });
    expect(r.violations).toEqual([]);
    expect(r.timeline).toMatch(/bootstrap failed: kubeadm join failed/);
    expect(r.timeline).toMatch(/launching ABANDON: its bootstrap failed -> ok/);
    expect(r.timeline).not.toMatch(/ignored \/tripod\/sig\/boot-failed\//);
  });

  it('a boot-failed record written by another session (here the reconciler) abandons nothing and is logged', async () => {
    const forging: Reconciler = async (ports, config, options) => {
      const group = await ports.fleet.describeGroup(config.masterGroupName);
      for (const i of group.instances.filter((x) => x.lifecycleState === 'Pending:Wait'))
        await ports.parameters.put(bootFailureParameter(config.cluster, i.instanceId), 'forged');
      return reconcilePass(ports, config, options);
    };
    const r = await simulate({
      seed: 5,
      spec: simSpec(base),
      faults: [],
      reconciler: forging,
      convergeWithinMs: 40 * 60_000,
    });
    expect(r.violations).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.timeline).toMatch(
      /ignored \/tripod\/sig\/boot-failed\/i-\w+: written by arn:aws:sts::123456789012:assumed-role\/tripod-sig-reconciler\/sig-reconciler, not by i-\w+'s own session/,
    );
    expect(r.timeline).not.toMatch(/ABANDON: its bootstrap failed/);
  });
});
