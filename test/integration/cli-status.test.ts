/**
 * `tripod status` against moto and a real 3-member etcd cluster (test/support/etcd-cluster.ts) whose
 * status the reconciler's own pass published (the real handler, as in lambda-etcd.test.ts): healthy
 * exits 0; one member killed (once a pass saw it) exits 1; a majority killed exits 3. A stale
 * document is itself "degraded". The CLI never dials etcd: its etcd facts are the document's.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GetParameterCommand, PutParameterCommand } from '@aws-sdk/client-ssm';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { statusOnce, watchStatus } from '../../src/cli/status.js';
import { backupStatusParameter, configParameter, statusParameter } from '../../src/contract/protocol.js';
import type { Telemetry } from '../../src/lambdas/reconciler-handler.js';
import { cli } from '../support/cli.js';
import type { EtcdTestCluster, EtcdTestMember } from '../support/etcd-cluster.js';
import { type LambdaCloud, publishConfig } from '../support/lambda-cloud.js';
import { scheduledEvent } from '../support/lambda-events.js';
import { lambdaCloudOnRealEtcd, realReconcilerHandler } from '../support/masters-etcd.js';
import { minimalClusterSpec, minimalSpec } from '../support/spec-text.js';
import { until } from '../support/until.js';

const endpoint = inject('motoEndpoint');
const REGION = 'ca-central-1';
const quiet: Telemetry = {
  info: () => {},
  warn: () => {},
  error: () => {},
  appendKeys: () => {},
  removeKeys: () => {},
  metric: () => {},
  flushMetrics: () => {},
};

describe('tripod status against moto and real etcd', () => {
  let cloud: LambdaCloud;
  let cluster: EtcdTestCluster;
  let specFile: string;
  let members: EtcdTestMember[];

  beforeAll(async () => {
    let dir: string;
    ({ cloud, cluster, members, dir } = await lambdaCloudOnRealEtcd(endpoint, 'st', REGION));
    specFile = join(dir, 'cluster.yaml');
    writeFileSync(specFile, minimalSpec(specOptions()));
  }, 120_000);
  afterAll(async () => {
    await cluster?.stop();
  });

  /** This cluster's spec: its masters all live in one zone (lambda-cloud), as the spec says. */
  const specOptions = () => ({ name: cloud.config.cluster, region: REGION, cidr: '10.60.0.0/16', zones: 1 });
  const handler = () => realReconcilerHandler(cloud, quiet);
  const doc = async () =>
    JSON.parse(
      (await cloud.aws.ssm.send(new GetParameterCommand({ Name: statusParameter(cloud.config.cluster) })))
        .Parameter!.Value!,
    ) as { members: Array<{ name: string; healthy: boolean }> };
  /** Passes run until the published document shows `n` healthy members (a deadline, not a count). */
  const passUntilHealthy = (n: number) =>
    until(
      () => handler()(scheduledEvent()),
      async () => (await doc()).members.filter((m) => m.healthy).length === n,
      { deadlineMs: 60_000, pauseMs: 500, what: `a status document with ${n} healthy members` },
    );
  const status = (format = 'json') =>
    cli('status', '-f', specFile, '--format', format, '--endpoint-url', endpoint);

  it('a healthy cluster: exit 0, every member a healthy voter with one leader, margin 1, text report', async () => {
    await passUntilHealthy(3);
    const r = await status();
    const j = JSON.parse(r.out);
    expect({ code: r.code, state: j.state, reasons: j.reasons }).toEqual({
      code: 0,
      state: 'healthy',
      reasons: [],
    });
    expect(j).toMatchObject({ quorum: 2, healthyVoters: 3, quorumMargin: 1 });
    expect(j.status.etcd.members.filter((m: { leader: boolean }) => m.leader)).toHaveLength(1);
    expect(j.statusDocument).toMatchObject({
      parameter: statusParameter(cloud.config.cluster),
      stale: false,
    });
    expect(j.statusDocument.ageSeconds).toBeLessThan(60);
    const t = await status('text');
    expect(t.code).toBe(0);
    expect(t.out).toContain(`tripod status: ${cloud.config.cluster} in ${REGION}: HEALTHY`);
    expect(t.out).toContain('etcd: 3 of 3 voters healthy, quorum 2, margin 1 (1 more can fail)');
    expect(t.out).toMatch(
      /etcd facts: the reconciler's status document \/tripod\/.+\/status, published \d+ s ago/,
    );
    expect(t.out).toContain('voter, leader');
    // No bucket in the configuration: the report says why it cannot tell, it does not invent one.
    expect(t.out).toContain(
      `Last backup: unknown (${configParameter(cloud.config.cluster)} names no backup bucket)`,
    );
  }, 120_000);

  it("the last backup comes from the backups' status document: time, age, revision, key; none yet before the first", async () => {
    await passUntilHealthy(3);
    const put = (Name: string, Value: string) =>
      cloud.aws.ssm.send(new PutParameterCommand({ Name, Value, Type: 'String', Overwrite: true }));
    const config = { ...cloud.config, backupBucket: `${cloud.config.cluster}-backups` };
    await publishConfig(cloud, config);
    try {
      const at = new Date(Date.now() - 5 * 60_000).toISOString();
      const key = `${cloud.config.cluster}/2026-11-29T00-00-00Z-rev42.db`;
      await put(
        backupStatusParameter(cloud.config.cluster),
        JSON.stringify({ lastSnapshot: { at, key, bytes: 1234, revision: 42 } }),
      );
      const t = await status('text');
      const line = t.out.split('\n').find((l) => l.startsWith('Last backup: '));
      // 5 min old when written; the report may come a little later on a loaded machine.
      expect(line).toMatch(/^Last backup: \S+ \((5|6) min ago\), revision 42, \S+$/);
      expect(line).toContain(`${at} (`);
      expect(line?.endsWith(`, ${key}`)).toBe(true);
      const j = JSON.parse((await status()).out);
      expect(j.status.lastBackup).toEqual({ time: at, key, revision: 42 });
      await put(backupStatusParameter(cloud.config.cluster), JSON.stringify({}));
      expect((await status('text')).out).toContain('Last backup: none yet');
    } finally {
      await publishConfig(cloud);
    }
  }, 120_000);

  it('one member killed: exit 1 (degraded), naming the member', async () => {
    const victim = members[2]!;
    await cluster.kill(victim);
    await passUntilHealthy(2);
    const r = await status();
    const j = JSON.parse(r.out);
    expect({ code: r.code, state: j.state }).toEqual({ code: 1, state: 'degraded' });
    expect(j.quorumMargin).toBe(0);
    expect(j.reasons.join('\n')).toContain(`${victim.name} (unhealthy)`);
  }, 120_000);

  it('a majority killed: exit 3 (quorum lost)', async () => {
    await cluster.kill(members[1]!);
    await passUntilHealthy(0);
    const r = await status();
    const j = JSON.parse(r.out);
    expect({ code: r.code, state: j.state }).toEqual({ code: 3, state: 'quorum-lost' });
    expect(j.quorumMargin).toBeLessThan(0);
    const t = await status('text');
    expect(t.code).toBe(3);
    expect(t.out).toContain('QUORUM LOST');
  }, 120_000);

  it('a stale status document is itself degraded, whatever it says', async () => {
    const fresh = (
      await cloud.aws.ssm.send(new GetParameterCommand({ Name: statusParameter(cloud.config.cluster) }))
    ).Parameter!.Value!;
    const old = JSON.parse(fresh);
    old.at = new Date(Date.now() - 10 * 60_000).toISOString();
    for (const m of old.members) m.healthy = true;
    await cloud.aws.ssm.send(
      new PutParameterCommand({
        Name: statusParameter(cloud.config.cluster),
        Value: JSON.stringify(old),
        Type: 'String',
        Overwrite: true,
      }),
    );
    const r = await status();
    const j = JSON.parse(r.out);
    expect({ code: r.code, state: j.state, stale: j.statusDocument.stale }).toEqual({
      code: 1,
      state: 'degraded',
      stale: true,
    });
    // 600 s when written, plus the seconds the PutParameter and the CLI's reads took on a busy machine
    const age = /the reconciler's status document is stale \((\d+) s old/.exec(j.reasons.join('\n'));
    expect(Number(age?.[1])).toBeGreaterThanOrEqual(600);
    expect(Number(age?.[1])).toBeLessThan(660);
  });

  it('--watch looks again every interval until stopped, with the last look as its exit code', async () => {
    const spec = minimalClusterSpec(specOptions());
    const { cliAwsClients } = await import('../../src/cli/aws-options.js');
    const aws = cliAwsClients(REGION, endpoint);
    const stop = new AbortController();
    const outs: string[] = [];
    let looks = 0;
    const code = await watchStatus(
      async () => {
        looks++;
        if (looks === 3) stop.abort();
        return statusOnce(aws, spec, 'text');
      },
      { out: (t) => outs.push(t), err: () => {} },
      2000,
      stop.signal,
      true,
    );
    aws.destroy();
    expect(looks).toBe(3);
    expect(outs).toHaveLength(3);
    expect(outs.every((o) => o.startsWith('\x1b[2J\x1b[H') && o.includes('(every 2 s; Ctrl-C stops)'))).toBe(
      true,
    );
    expect(code).toBe(1);
  });

  it('--help documents every flag and where the etcd facts come from', async () => {
    const r = await cli('status', '--help');
    const help = r.out + r.err;
    for (const flag of [
      '--spec',
      '--format',
      '--watch',
      '--interval',
      '--endpoint-url',
      '--region',
      '--help',
    ])
      expect(help).toContain(flag);
    expect(help).toContain('/tripod/<cluster>/status');
    expect(help).toContain('0 healthy, 1 degraded');
    expect(help).toContain('3 etcd quorum lost');
  });
});
