/**
 * Real etcd clusters for tests: every member is an etcd process of the pinned release (etcd-bin.ts) started by the product's own
 * etcd phase (src/bootstrap/scripts/etcd-member.sh, ETCD_EXEC=1) on its own loopback address
 * 127.<a>.<b>.<n> (a, b random per cluster, so parallel test files never collide) and free ports,
 * with a per-cluster CA and a reconciler client certificate (mutual TLS) made with openssl.
 *
 *   const cluster = await startEtcdCluster({ size: 3 });
 *   afterAll(() => cluster.stop());                 // always: kills every process, removes the temp dir
 *   await cluster.client.listMembers(cluster.endpoint());
 *   // a join: allocate an address, add it as a learner, start its process, promote it
 *   const m = await cluster.allocate('m4');
 *   const { members } = await cluster.client.addLearner(cluster.endpoint(), m.peerURL);
 *   await cluster.startMember(m, { initialCluster: initialClusterAfterAdd(members, m), state: 'existing' });
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, copyFileSync, existsSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createEtcdClient, type EtcdClient, type EtcdTls } from '../../src/adapters/etcd/client.js';
import type { EtcdMemberReply } from '../../src/heal/ports.js';
import { etcdBinary } from '../../src/sim/etcd-bin.js';
import { issueClientCert, makeCa, readTls } from './pki.js';
import { freePort } from './ports.js';

export const ETCD_MEMBER_SCRIPT = resolve(import.meta.dirname, '../../src/bootstrap/scripts/etcd-member.sh');

export interface EtcdClusterOptions {
  /** Members started as the initial cluster (state `new`). */
  size: number;
  /** `https` (default: mutual TLS everywhere) or `http`. */
  scheme?: 'https' | 'http';
  /** etcd --heartbeat-interval in ms (default 50, fast for tests). */
  heartbeatMs?: number;
  /** etcd --election-timeout in ms (default 500). */
  electionMs?: number;
  /** Member name prefix (default `m`: m1, m2, ...). */
  namePrefix?: string;
  /** The client's per-call timeout (default 5000 ms). */
  timeoutMs?: number;
  /** Seconds to wait for the cluster to serve (default 30). */
  readyTimeoutS?: number;
}

export interface EtcdTestMember {
  name: string;
  ip: string;
  clientPort: number;
  peerPort: number;
  clientURL: string;
  peerURL: string;
  dataDir: string;
  pkiDir: string;
  logFile: string;
  /** The member's process while it runs. */
  process: ChildProcess | undefined;
  /** What it was last started with (a restart reuses it; etcd ignores it once the data dir exists). */
  initialCluster: string;
  state: 'new' | 'existing';
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;
/** A test file that dies without its afterAll still must not leave etcd processes behind. */
function installExitHook() {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const child of live) child.kill('SIGKILL');
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const randomOctet = (min: number, max: number) => min + Math.floor(Math.random() * (max - min + 1));

/**
 * The `--initial-cluster` a member joining with `existing` needs: every member of the list returned
 * by the add (etcd checks the joining member's view against its membership), named members under
 * their names, the new member under its name, others unnamed (as etcdctl does).
 */
export function initialClusterAfterAdd(
  members: EtcdMemberReply[],
  joining: { name: string; peerURL: string },
) {
  return members
    .flatMap((m) => {
      const name = m.peerURLs.includes(joining.peerURL) ? joining.name : m.name;
      return m.peerURLs.map((u) => `${name}=${u}`);
    })
    .join(',');
}

export class EtcdTestCluster {
  readonly members: EtcdTestMember[] = [];
  private nextIndex = 1;
  /** Epoch ms when every member of the initial cluster served (set by startEtcdCluster). */
  readyAt = 0;
  private stopped = false;

  constructor(
    readonly dir: string,
    readonly scheme: 'https' | 'http',
    /** `127.<a>.<b>.`: members get .1, .2, ... */
    readonly ipPrefix: string,
    readonly caDir: string,
    /** The reconciler's client certificate, the CA and their PEMs (https only). */
    readonly tls: EtcdTls | undefined,
    readonly client: EtcdClient,
    private readonly options: Required<Omit<EtcdClusterOptions, 'size'>>,
  ) {}

  member(name: string): EtcdTestMember {
    const m = this.members.find((x) => x.name === name);
    if (!m)
      throw new Error(
        `no member ${name} in this test cluster (${this.members.map((x) => x.name).join(', ')})`,
      );
    return m;
  }

  /** Members whose process runs. */
  running(): EtcdTestMember[] {
    return this.members.filter((m) => m.process);
  }

  /** Client URLs of running members. */
  endpoints(): string[] {
    return this.running().map((m) => m.clientURL);
  }

  /** One running member's client URL (the first, or the first not in `except`). */
  endpoint(...except: string[]): string {
    const m = this.running().find((x) => !except.includes(x.name) && !except.includes(x.clientURL));
    if (!m) throw new Error('no running etcd member');
    return m.clientURL;
  }

  /** A new member's address, ports and directories (nothing started, nothing added to etcd). */
  async allocate(name = `${this.options.namePrefix}${this.nextIndex}`): Promise<EtcdTestMember> {
    if (this.members.some((m) => m.name === name)) throw new Error(`member name ${name} already used`);
    const index = this.nextIndex++;
    if (index > 254) throw new Error('too many members in one test cluster');
    const ip = `${this.ipPrefix}${index}`;
    const clientPort = await freePort(ip);
    let peerPort = await freePort(ip);
    while (peerPort === clientPort) peerPort = await freePort(ip);
    return this.allocateAt(name, ip, clientPort, peerPort);
  }

  /**
   * A member at a given address and ports (e.g. etcd's standard 2379/2380 on its own address, as on
   * AWS): its directories and its copy of the CA. Nothing is started or added to etcd.
   */
  allocateAt(name: string, ip: string, clientPort: number, peerPort: number): EtcdTestMember {
    const base = join(this.dir, name);
    const pkiDir = join(base, 'pki');
    mkdirSync(pkiDir, { recursive: true });
    if (this.scheme === 'https') {
      copyFileSync(join(this.caDir, 'ca.crt'), join(pkiDir, 'ca.crt'));
      copyFileSync(join(this.caDir, 'ca.key'), join(pkiDir, 'ca.key'));
    }
    const member: EtcdTestMember = {
      name,
      ip,
      clientPort,
      peerPort,
      clientURL: `${this.scheme}://${ip}:${clientPort}`,
      peerURL: `${this.scheme}://${ip}:${peerPort}`,
      dataDir: join(base, 'data'),
      pkiDir,
      logFile: join(base, 'etcd.log'),
      process: undefined,
      initialCluster: '',
      state: 'new',
    };
    this.members.push(member);
    return member;
  }

  /** Starts `member`'s process through etcd-member.sh (does not wait for it to serve). */
  startMember(member: EtcdTestMember, join?: { initialCluster: string; state: 'new' | 'existing' }): void {
    if (this.stopped) throw new Error('test cluster already stopped');
    if (member.process) throw new Error(`member ${member.name} already runs`);
    if (join) {
      member.initialCluster = join.initialCluster;
      member.state = join.state;
    }
    const log = openSync(member.logFile, 'a');
    const child = spawn('bash', [ETCD_MEMBER_SCRIPT], {
      stdio: ['ignore', log, log],
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: process.env.HOME ?? this.dir,
        ETCD_NAME: member.name,
        ETCD_IP: member.ip,
        ETCD_CLIENT_PORT: String(member.clientPort),
        ETCD_PEER_PORT: String(member.peerPort),
        ETCD_DATA_DIR: member.dataDir,
        ETCD_PKI_DIR: member.pkiDir,
        ETCD_INITIAL_CLUSTER: member.initialCluster,
        ETCD_INITIAL_CLUSTER_STATE: member.state,
        ETCD_SCHEME: this.scheme,
        ETCD_HEARTBEAT_INTERVAL: String(this.options.heartbeatMs),
        ETCD_ELECTION_TIMEOUT: String(this.options.electionMs),
        ETCD_BIN: etcdBinary(),
        ETCD_EXEC: '1',
      },
    });
    closeSync(log);
    installExitHook();
    live.add(child);
    member.process = child;
    child.once('exit', () => {
      live.delete(child);
      if (member.process === child) member.process = undefined;
    });
  }

  /** Waits until `member` answers status (a learner answers too); throws with its log tail otherwise. */
  async waitServing(member: EtcdTestMember, timeoutS = this.options.readyTimeoutS): Promise<void> {
    const deadline = Date.now() + timeoutS * 1000;
    let last = '';
    for (;;) {
      if (!member.process) throw new Error(`etcd member ${member.name} exited:\n${this.logTail(member)}`);
      try {
        const s = await this.client.status(member.clientURL);
        if (s.leaderId !== '0') return;
        last = 'no leader yet';
      } catch (err) {
        last = (err as Error).message;
      }
      if (Date.now() > deadline) {
        throw new Error(
          `etcd member ${member.name} not serving after ${timeoutS} s (${last}):\n${this.logTail(member)}`,
        );
      }
      await sleep(100);
    }
  }

  /**
   * Waits until etcd would accept a membership change at `endpoint`: every voter has been connected
   * to it for etcd's 5 s health interval (strict reconfig check). Probes with `probe`, retried while
   * it fails as `unavailable`.
   */
  async retryWhileUnavailable<T>(probe: () => Promise<T>, timeoutS = 20): Promise<T> {
    const deadline = Date.now() + timeoutS * 1000;
    for (;;) {
      try {
        return await probe();
      } catch (err) {
        const kind = (err as { kind?: string }).kind;
        if (kind !== 'unavailable' || Date.now() > deadline) throw err;
      }
      await sleep(200);
    }
  }

  /**
   * Waits until etcd's strict reconfig check can pass: every voter connected to every other for
   * 5 s (etcd's health interval) since the initial cluster served. Before that, MemberAdd fails
   * with "unhealthy cluster" even when every member is up.
   */
  async waitReconfigurable(): Promise<void> {
    const wait = this.readyAt + 5_500 - Date.now();
    if (wait > 0) await sleep(wait);
  }

  /** SIGKILLs the member's process (its data dir stays: `restart` brings it back). */
  async kill(member: EtcdTestMember | string): Promise<void> {
    const m = typeof member === 'string' ? this.member(member) : member;
    const child = m.process;
    if (!child) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill('SIGCONT');
    child.kill('SIGKILL');
    await exited;
  }

  /** Freezes the process (SIGSTOP): it holds its sockets but answers nothing, like a partitioned node. */
  pause(member: EtcdTestMember | string): void {
    const m = typeof member === 'string' ? this.member(member) : member;
    m.process?.kill('SIGSTOP');
  }

  resume(member: EtcdTestMember | string): void {
    const m = typeof member === 'string' ? this.member(member) : member;
    m.process?.kill('SIGCONT');
  }

  /** Starts a killed member again on its data dir and waits until it serves. */
  async restart(member: EtcdTestMember | string): Promise<void> {
    const m = typeof member === 'string' ? this.member(member) : member;
    await this.kill(m);
    this.startMember(m);
    await this.waitServing(m);
  }

  /**
   * Starts the process of a member that was added (as a learner) through the client: it joins with
   * `--initial-cluster-state existing` and the initial cluster derived from `members` (the add's
   * reply). Waits until it serves.
   */
  async addProcess(member: EtcdTestMember, members: EtcdMemberReply[]): Promise<void> {
    this.startMember(member, { initialCluster: initialClusterAfterAdd(members, member), state: 'existing' });
    await this.waitServing(member);
  }

  /** The running member that is the leader (as the running members see it). */
  async leader(): Promise<EtcdTestMember> {
    for (const m of this.running()) {
      try {
        const s = await this.client.status(m.clientURL);
        if (s.leaderId === '0') continue;
        if (!this.byId(s.leaderId)) await this.refreshIds();
        const leader = this.byId(s.leaderId);
        if (leader?.process) return leader;
      } catch {
        /* try the next member */
      }
    }
    throw new Error('no leader found');
  }

  private readonly ids = new Map<string, EtcdTestMember>();
  /** The test member with etcd member id `id` (learned from the member list). */
  byId(id: string): EtcdTestMember | undefined {
    return this.ids.get(id);
  }

  /** Reads the member list and remembers which id belongs to which test member. */
  async refreshIds(): Promise<EtcdMemberReply[]> {
    let lastErr: unknown;
    for (const endpoint of this.endpoints()) {
      try {
        const list = await this.client.listMembers(endpoint);
        for (const reply of list) {
          const m = this.members.find((x) => reply.peerURLs.includes(x.peerURL));
          if (m) this.ids.set(reply.id, m);
        }
        return list;
      } catch (err) {
        lastErr = err;
      }
    }
    throw lastErr ?? new Error('no running etcd member');
  }

  /** The etcd member id of a test member. */
  async idOf(member: EtcdTestMember | string): Promise<string> {
    const m = typeof member === 'string' ? this.member(member) : member;
    for (const [id, x] of this.ids) if (x === m) return id;
    await this.refreshIds();
    for (const [id, x] of this.ids) if (x === m) return id;
    throw new Error(`member ${m.name} is not in the etcd member list`);
  }

  logTail(member: EtcdTestMember, lines = 25): string {
    if (!existsSync(member.logFile)) return '(no log)';
    return readFileSync(member.logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  }

  /** Kills every process and removes the temp dir (set TRIPOD_KEEP_ETCD=1 to keep it for a look). */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.client.close();
    await Promise.all(this.members.map((m) => this.kill(m)));
    if (process.env.TRIPOD_KEEP_ETCD === '1') return;
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** Starts a `size`-member cluster and waits until every member serves with a leader. */
export async function startEtcdCluster(options: EtcdClusterOptions): Promise<EtcdTestCluster> {
  const scheme = options.scheme ?? 'https';
  const dir = await mkdtemp(join(tmpdir(), 'tripod-etcd-'));
  const caDir = join(dir, 'ca');
  mkdirSync(caDir);
  let tls: EtcdTls | undefined;
  if (scheme === 'https') {
    const ca = await makeCa(caDir);
    const client = await issueClientCert(caDir, caDir, 'tripod-reconciler');
    tls = await readTls(ca.cert, client);
  }
  const full = {
    scheme,
    heartbeatMs: options.heartbeatMs ?? 50,
    electionMs: options.electionMs ?? 500,
    namePrefix: options.namePrefix ?? 'm',
    timeoutMs: options.timeoutMs ?? 5000,
    readyTimeoutS: options.readyTimeoutS ?? 30,
  };
  const client = createEtcdClient({ tls, timeoutMs: full.timeoutMs });
  const ipPrefix = `127.${randomOctet(1, 254)}.${randomOctet(0, 255)}.`;
  const cluster = new EtcdTestCluster(dir, scheme, ipPrefix, caDir, tls, client, full);
  try {
    const members: EtcdTestMember[] = [];
    for (let i = 0; i < options.size; i++) members.push(await cluster.allocate());
    const initialCluster = members.map((m) => `${m.name}=${m.peerURL}`).join(',');
    for (const m of members) cluster.startMember(m, { initialCluster, state: 'new' });
    await Promise.all(members.map((m) => cluster.waitServing(m)));
    await cluster.refreshIds();
    cluster.readyAt = Date.now();
    return cluster;
  } catch (err) {
    await cluster.stop();
    throw err;
  }
}
