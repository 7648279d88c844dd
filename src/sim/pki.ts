/**
 * A throw-away etcd PKI made with openssl: a CA and client certificates signed by it (members issue
 * their own server and peer certificates: that is the job of src/bootstrap/scripts/etcd-member.sh).
 * The sandbox and the tests use it; nothing here is for production clusters (30-day certificates).
 */
import { execFile } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

async function openssl(args: string[]): Promise<void> {
  try {
    await run('openssl', args);
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`openssl ${args[0]} failed: ${e.stderr || e.message}`);
  }
}

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/** Writes `ca.crt` and `ca.key` into `dir` (a self-signed P-256 CA). */
export async function makeCa(
  dir: string,
  commonName = 'tripod-etcd-ca',
): Promise<{ cert: string; key: string }> {
  const cert = join(dir, 'ca.crt');
  const key = join(dir, 'ca.key');
  await openssl([
    'req',
    '-x509',
    ...EC_KEY,
    '-keyout',
    key,
    '-out',
    cert,
    '-subj',
    `/CN=${commonName}`,
    '-days',
    '30',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign,digitalSignature',
  ]);
  return { cert, key };
}

/** Issues `<name>.crt`/`<name>.key` in `dir` for client authentication, signed by the CA in `caDir`. */
export async function issueClientCert(
  dir: string,
  caDir: string,
  name: string,
): Promise<{ cert: string; key: string }> {
  const base = join(dir, name);
  const ext = `${base}.ext`;
  await writeFile(ext, 'basicConstraints=critical,CA:FALSE\nextendedKeyUsage=clientAuth\n');
  await openssl([
    'req',
    '-new',
    ...EC_KEY,
    '-keyout',
    `${base}.key`,
    '-out',
    `${base}.csr`,
    '-subj',
    `/CN=${name}`,
  ]);
  const serial = `0x${[...crypto.getRandomValues(new Uint8Array(12))].map((b) => b.toString(16).padStart(2, '0')).join('')}`;
  await openssl([
    'x509',
    '-req',
    '-in',
    `${base}.csr`,
    '-CA',
    join(caDir, 'ca.crt'),
    '-CAkey',
    join(caDir, 'ca.key'),
    '-set_serial',
    serial,
    '-days',
    '30',
    '-sha256',
    '-extfile',
    ext,
    '-out',
    `${base}.crt`,
  ]);
  await rm(`${base}.csr`);
  await rm(ext);
  return { cert: `${base}.crt`, key: `${base}.key` };
}

/** The PEM contents of a CA and a client certificate, as `createEtcdClient({ tls })` takes them. */
export async function readTls(caCert: string, client: { cert: string; key: string }) {
  const [ca, cert, key] = await Promise.all([readFile(caCert), readFile(client.cert), readFile(client.key)]);
  return { ca, cert, key };
}

/** A CA in `<dir>/ca` and the reconciler's client certificate signed by it, as PEM for the etcd client. */
export async function makeClusterPki(dir: string) {
  const caDir = join(dir, 'ca');
  await mkdir(caDir, { recursive: true });
  const ca = await makeCa(caDir);
  const client = await issueClientCert(caDir, caDir, 'tripod-reconciler');
  return { caDir, tls: await readTls(ca.cert, client) };
}
