/**
 * src/bootstrap/scripts/etcd-member.sh: shellcheck, its input checks, the certificates it issues,
 * the systemd unit it writes on a real node (systemctl is a stand-in on PATH recording its
 * arguments), and a real member it runs that keeps its identity across a restart.
 */
import { execFile, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { etcdBinary } from '../../src/sim/etcd-bin.js';
import { ETCD_MEMBER_SCRIPT, type EtcdTestCluster, startEtcdCluster } from '../support/etcd-cluster.js';
import { makeCa } from '../support/pki.js';

const run = promisify(execFile);

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tripod-etcd-script-'));
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Runs the script with exactly `env` (plus PATH), returns exit status and output. */
function script(env: Record<string, string>, path = process.env.PATH ?? '/usr/bin:/bin') {
  const r = spawnSync('bash', [ETCD_MEMBER_SCRIPT], { env: { PATH: path, ...env }, encoding: 'utf8' });
  return { status: r.status, stderr: r.stderr, stdout: r.stdout };
}

describe('etcd-member.sh', () => {
  it('passes shellcheck', async () => {
    const r = await run('shellcheck', ['-x', ETCD_MEMBER_SCRIPT]).then(
      (x) => ({ ok: true, out: x.stdout }),
      (e: { stdout?: string }) => ({ ok: false, out: e.stdout ?? '' }),
    );
    expect(r.out).toBe('');
    expect(r.ok).toBe(true);
  });

  it('names the missing or bad input and exits 1', () => {
    const base = {
      ETCD_NAME: 'm1',
      ETCD_IP: '127.0.0.9',
      ETCD_DATA_DIR: join(dir, 'bad-data'),
      ETCD_EXEC: '1',
    };
    const cases: Array<[Record<string, string>, RegExp]> = [
      [{ ETCD_IP: '127.0.0.9' }, /ETCD_NAME is required/],
      [{ ETCD_NAME: 'm1' }, /ETCD_IP is required/],
      [{ ...base, ETCD_SCHEME: 'ftp' }, /ETCD_SCHEME must be https or http, got 'ftp'/],
      [
        { ...base, ETCD_INITIAL_CLUSTER_STATE: 'joining' },
        /ETCD_INITIAL_CLUSTER_STATE must be new or existing/,
      ],
      [{ ...base, ETCD_CLIENT_PORT: '23x' }, /must be numbers, got '23x'/],
      [
        { ...base, ETCD_INITIAL_CLUSTER: 'm2=https://127.0.0.8:2380' },
        /does not contain this member \(m1=https:\/\/127\.0\.0\.9:2380\)/,
      ],
      [
        { ...base, ETCD_PKI_DIR: join(dir, 'no-ca') },
        /etcd CA \(ca\.crt and ca\.key\) is missing in .*no-ca/,
      ],
    ];
    for (const [env, message] of cases) {
      const r = script(env);
      expect(r.stderr, JSON.stringify(env)).toMatch(message);
      expect(r.status, JSON.stringify(env)).not.toBe(0);
    }
  });

  it('on a node: issues certificates for its IP and writes a Restart=always systemd unit with TLS everywhere', async () => {
    const pki = join(dir, 'node-pki');
    const units = join(dir, 'units');
    const bin = join(dir, 'bin');
    mkdirSync(pki, { recursive: true });
    mkdirSync(bin, { recursive: true });
    await makeCa(pki);
    const calls = join(dir, 'systemctl.calls');
    writeFileSync(join(bin, 'systemctl'), `#!/bin/sh\necho "$*" >> '${calls}'\n`);
    chmodSync(join(bin, 'systemctl'), 0o755);

    const r = script(
      {
        ETCD_NAME: 'i-0abc',
        ETCD_IP: '10.40.1.5',
        ETCD_DATA_DIR: join(dir, 'node-data'),
        ETCD_PKI_DIR: pki,
        ETCD_UNIT_DIR: units,
        ETCD_BIN: etcdBinary(),
        ETCD_INITIAL_CLUSTER: 'i-0aaa=https://10.40.0.5:2380,i-0abc=https://10.40.1.5:2380',
        ETCD_INITIAL_CLUSTER_STATE: 'existing',
      },
      `${bin}:${process.env.PATH}`,
    );
    expect(r.stderr).toMatch(/etcd\.service started/);
    expect(r.status).toBe(0);

    const unit = readFileSync(join(units, 'etcd.service'), 'utf8');
    expect(unit).toMatch(/^Restart=always$/m);
    const exec = unit.split('\n').find((l) => l.startsWith('ExecStart='))!;
    for (const flag of [
      '--name=i-0abc',
      '--listen-client-urls=https://10.40.1.5:2379',
      '--advertise-client-urls=https://10.40.1.5:2379',
      '--listen-peer-urls=https://10.40.1.5:2380',
      '--initial-advertise-peer-urls=https://10.40.1.5:2380',
      '--initial-cluster=i-0aaa=https://10.40.0.5:2380,i-0abc=https://10.40.1.5:2380',
      '--initial-cluster-state=existing',
      '--client-cert-auth=true',
      '--peer-client-cert-auth=true',
      `--trusted-ca-file=${pki}/ca.crt`,
      `--peer-trusted-ca-file=${pki}/ca.crt`,
      `--cert-file=${pki}/server.crt`,
      `--peer-cert-file=${pki}/peer.crt`,
      '--heartbeat-interval=100',
      '--election-timeout=1000',
    ]) {
      expect(exec.split(' ')).toContain(flag);
    }
    expect(exec.startsWith(`ExecStart=${etcdBinary()} `)).toBe(true);
    expect(readFileSync(calls, 'utf8').trim().split('\n')).toEqual([
      'daemon-reload',
      'enable etcd.service',
      'restart etcd.service',
    ]);

    for (const kind of ['server', 'peer']) {
      const text = (await run('openssl', ['x509', '-in', join(pki, `${kind}.crt`), '-noout', '-text']))
        .stdout;
      expect(text).toMatch(/IP Address:10\.40\.1\.5/);
      expect(text).toMatch(/TLS Web Server Authentication, TLS Web Client Authentication/);
      expect(text).toMatch(/Subject: CN ?= ?i-0abc/);
      const verify = await run('openssl', [
        'verify',
        '-CAfile',
        join(pki, 'ca.crt'),
        join(pki, `${kind}.crt`),
      ]);
      expect(verify.stdout).toMatch(/OK/);
      // Keys are private to the owner.
      expect((await run('stat', ['-c', '%a', join(pki, `${kind}.key`)])).stdout.trim()).toBe('600');
    }
    expect(existsSync(join(dir, 'node-data'))).toBe(true);
  });
});

describe('etcd-member.sh runs real members', () => {
  let c: EtcdTestCluster;
  beforeAll(async () => {
    c = await startEtcdCluster({ size: 1 });
  });
  afterAll(async () => {
    await c?.stop();
  });

  it('starts a TLS member that keeps its certificates, id and data across a restart', async () => {
    const m1 = c.member('m1');
    const fingerprint = async () =>
      (
        await run('openssl', [
          'x509',
          '-in',
          join(m1.pkiDir, 'server.crt'),
          '-noout',
          '-fingerprint',
          '-sha256',
        ])
      ).stdout;
    const before = await fingerprint();
    const id = (await c.client.status(m1.clientURL)).memberId;
    const [member] = await c.client.listMembers(m1.clientURL);
    expect(member).toMatchObject({ id, name: 'm1', clientURLs: [m1.clientURL], peerURLs: [m1.peerURL] });

    await c.kill(m1);
    await expect(c.client.status(m1.clientURL)).rejects.toMatchObject({ kind: 'unavailable' });
    await c.restart(m1);
    expect((await c.client.status(m1.clientURL)).memberId).toBe(id);
    expect(await fingerprint()).toBe(before);
    expect(c.logTail(m1, 200)).toMatch(/keeping existing .*server\.crt/);
  });
});
