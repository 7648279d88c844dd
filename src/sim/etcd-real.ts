/**
 * The simulator's real etcd back end: every simulated master's etcd member is a REAL etcd process
 * (the release the masters install, found by etcd-bin.ts), started by the product's own src/bootstrap/scripts/etcd-member.sh in the
 * foreground (ETCD_EXEC=1) with mutual TLS, bound to a loopback address given to that instance.
 *
 * The simulated cloud keeps its 10.x private addresses (the reconciler sees those: endpoints, peer
 * URLs, join parameters); this back end maps each one to a 127.a.b.n address and translates every
 * URL on the way in and out, so the reconciler runs unchanged against real etcd.
 *
 * Faults on processes: an instance killed or an etcd crash is SIGKILL; a zone outage kills every
 * process in the zone (restarted on their data dirs when the zone comes back, as after a reboot);
 * a partition freezes the zone's processes (SIGSTOP/SIGCONT). That is an approximation: loopback
 * cannot be partitioned without network namespaces, so a frozen member does not answer anyone, not
 * even the members of its own zone.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  closeSync,
  copyFileSync,
  createWriteStream,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { createEtcdClient, type EtcdClient, type EtcdTls } from '../adapters/etcd/client.js';
import { Gateway } from '../adapters/etcd/gateway.js';
import { BOOTSTRAP_SCRIPTS } from '../bootstrap/scripts.generated.js';
import { clientURL, peerURL } from '../contract/protocol.js';
import type { JoinParameters } from '../heal/observed.js';
import type { EtcdMemberReply, EtcdMemberStatusReply, EtcdPort } from '../heal/ports.js';
import { restoreSnapshotOnNode } from '../heal/restore.js';
import { etcdBinary, locateEtcdTool } from './etcd-bin.js';

/** Where a simulated instance is, as far as its process goes. */
export type Placement = 'up' | 'down' | 'frozen' | 'gone';

export interface RealEtcdOptions {
  /** Working directory (data dirs, certificates, logs). */
  dir: string;
  /** Holds the cluster's etcd CA (ca.crt, ca.key): each member issues its own certificates from it. */
  caDir: string;
  /** The reconciler's client certificate, key and the CA (PEM). */
  tls: EtcdTls;
  clientPort: number;
  peerPort: number;
  /** etcd --heartbeat-interval / --election-timeout in ms (default 50 / 500). */
  heartbeatMs?: number;
  electionMs?: number;
  /** The reconciler's per-call deadline (default 1500 ms: a frozen member must not stall a pass). */
  timeoutMs?: number;
  /** The etcd binary (default: `etcdBinary()`, the pinned release). */
  etcdBin?: string;
  /** Where each simulated instance is (its zone up, down, partitioned; terminated). */
  placement: (simIp: string) => Placement;
  log: (text: string) => void;
}

export interface RealMember {
  simIp: string;
  loopIp: string;
  name: string;
  dataDir: string;
  pkiDir: string;
  logFile: string;
  params: JoinParameters | undefined;
  process: ChildProcess | undefined;
  /** The etcd service cannot start again (a permanent crash). */
  broken: boolean;
  frozen: boolean;
  /** Killed by a zone outage: started again when the zone comes back. */
  downKilled: boolean;
  gone: boolean;
  pid?: number;
}

/** The real cluster as the last poll saw it (addresses translated back to the simulated ones). */
export interface RealView {
  at: number;
  members: EtcdMemberReply[];
  leaderId: string;
  /** status by simulated IP, for members that answered. */
  status: Map<string, EtcdMemberStatusReply>;
}

const live = new Set<ChildProcess>();
let exitHook = false;
/** Every etcd process this module started, SIGKILLed (also on process exit). */
export function killAllEtcd(): void {
  for (const c of live) {
    try {
      c.kill('SIGCONT');
      c.kill('SIGKILL');
    } catch {
      /* already gone */
    }
  }
}

/** Can something listen on host:port right now (0: the OS picks)? Resolves with the port, or undefined. */
function tryListen(host: string, port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', () => resolve(undefined));
    srv.listen(port, host, () => {
      const addr = srv.address();
      srv.close(() => resolve(typeof addr === 'object' && addr ? addr.port : undefined));
    });
  });
}

/**
 * The etcd ports for a run: 2379/2380 (the product's) unless something holds them on every
 * address (a wildcard listener, e.g. an etcd configured on 0.0.0.0), then two ports the OS picks.
 */
export async function pickEtcdPorts(): Promise<{ client: number; peer: number }> {
  const probe = `127.${1 + Math.floor(Math.random() * 254)}.${Math.floor(Math.random() * 256)}.254`;
  if ((await tryListen(probe, 2379)) && (await tryListen(probe, 2380))) return { client: 2379, peer: 2380 };
  const client = await tryListen(probe, 0);
  let peer = await tryListen(probe, 0);
  // Without a client port the loop below would spin forever (undefined === undefined).
  while (client !== undefined && peer === client) peer = await tryListen(probe, 0);
  if (!client || !peer) throw new Error(`no free TCP port on ${probe} for etcd`);
  return { client, peer };
}

/** Working directories to remove if the run is interrupted (Ctrl-C). */
const interruptDirs = new Set<string>();
export function removeOnInterrupt(dir: string, remove: boolean): void {
  if (remove) interruptDirs.add(dir);
  else interruptDirs.delete(dir);
}

/** Ctrl-C: every etcd process SIGKILLed, working directories removed (those registered). */
export function interruptCleanup(): number {
  const n = live.size;
  killAllEtcd();
  for (const d of interruptDirs) rmSync(d, { recursive: true, force: true });
  interruptDirs.clear();
  return n;
}

/** Pids of the etcd processes this module started that have not exited yet. */
export function liveEtcdPids(): number[] {
  return [...live].map((c) => c.pid).filter((p): p is number => p !== undefined);
}

const URL_HOST = /^(\w+:\/\/)([^:/]+)(.*)$/;

export class RealEtcd {
  readonly members = new Map<string, RealMember>();
  private readonly bySim = new Map<string, string>();
  private readonly byLoop = new Map<string, string>();
  private readonly prefix: string;
  private next = 1;
  private readonly client: EtcdClient;
  private readonly pollClient: EtcdClient;
  private readonly kv: Gateway;
  private readonly script: string;
  view: RealView = { at: 0, members: [], leaderId: '0', status: new Map() };
  /** The sandbox's snapshot bucket: key -> file (what a restore's seed downloads). */
  readonly snapshots = new Map<string, string>();
  readonly stats = { started: 0, killed: 0, polls: 0 };
  private stopped = false;

  constructor(readonly opts: RealEtcdOptions) {
    const a = 1 + Math.floor(Math.random() * 254);
    const b = Math.floor(Math.random() * 256);
    this.prefix = `127.${a}.${b}.`;
    this.client = createEtcdClient({ tls: opts.tls, timeoutMs: opts.timeoutMs ?? 1500 });
    this.pollClient = createEtcdClient({ tls: opts.tls, timeoutMs: 400 });
    this.kv = new Gateway({ tls: opts.tls, timeoutMs: 2000 });
    mkdirSync(opts.dir, { recursive: true });
    this.script = join(opts.dir, 'etcd-member.sh');
    writeFileSync(this.script, BOOTSTRAP_SCRIPTS['etcd-member.sh'] as string, { mode: 0o755 });
    if (!exitHook) {
      exitHook = true;
      process.on('exit', killAllEtcd);
    }
  }

  /** The loopback address standing in for simulated private IP `simIp` (allocated on first use). */
  loopbackOf(simIp: string): string {
    let ip = this.bySim.get(simIp);
    if (!ip) {
      if (this.next > 254) throw new Error('real etcd: more than 254 instances in one run');
      ip = `${this.prefix}${this.next++}`;
      this.bySim.set(simIp, ip);
      this.byLoop.set(ip, simIp);
    }
    return ip;
  }

  private toLoop = (url: string): string => {
    const m = URL_HOST.exec(url);
    return m ? `${m[1]}${this.loopbackOf(m[2] as string)}${m[3]}` : url;
  };

  private toSim = (url: string): string => {
    const m = URL_HOST.exec(url);
    const sim = m ? this.byLoop.get(m[2] as string) : undefined;
    return m && sim ? `${m[1]}${sim}${m[3]}` : url;
  };

  private simMember = (m: EtcdMemberReply): EtcdMemberReply => ({
    ...m,
    peerURLs: m.peerURLs.map(this.toSim),
    clientURLs: m.clientURLs.map(this.toSim),
  });

  /**
   * Awaited before every membership change the reconciler makes (add: the new peer URL; promote,
   * remove: the member id): the invariant watch looks at the cluster as it is right then.
   */
  beforeChange: ((op: 'add' | 'promote' | 'remove', target: string) => Promise<void>) | undefined;

  /** EtcdPort over the real cluster (mTLS, etcd's JSON gateway), in the simulated addresses. */
  readonly port: EtcdPort = {
    listMembers: async (ep) => (await this.client.listMembers(this.toLoop(ep))).map(this.simMember),
    addLearner: async (ep, peer) => {
      await this.beforeChange?.('add', peer);
      const r = await this.client.addLearner(this.toLoop(ep), this.toLoop(peer));
      return { member: this.simMember(r.member), members: r.members.map(this.simMember) };
    },
    promoteMember: async (ep, id) => {
      await this.beforeChange?.('promote', id);
      await this.client.promoteMember(this.toLoop(ep), id);
    },
    removeMember: async (ep, id) => {
      await this.beforeChange?.('remove', id);
      await this.client.removeMember(this.toLoop(ep), id);
    },
    status: (ep) => this.client.status(this.toLoop(ep)),
    moveLeader: (ep, id) => this.client.moveLeader(this.toLoop(ep), id),
    alarms: (ep) => this.client.alarms(this.toLoop(ep)),
  };

  private loopClientURL(m: RealMember): string {
    return clientURL(m.loopIp, 'https', this.opts.clientPort);
  }

  /** A client on the loopback endpoints (the sandbox writes and reads its keys with it). */
  endpointsServing(): string[] {
    return [...this.members.values()].filter((m) => m.process && !m.frozen).map((m) => this.loopClientURL(m));
  }

  /** Writes a key through any serving member (the sandbox's data-survives check). */
  async put(key: string, value: string): Promise<void> {
    const b64 = (x: string) => Buffer.from(x).toString('base64');
    await this.anyServing((ep) => this.kv.call(ep, '/v3/kv/put', { key: b64(key), value: b64(value) }));
  }

  /** Reads a key with a linearizable read (needs quorum); undefined when it does not exist. */
  async get(key: string): Promise<string | undefined> {
    const r = await this.anyServing((ep) =>
      this.kv.call<{ kvs?: Array<{ value?: string }> }>(ep, '/v3/kv/range', {
        key: Buffer.from(key).toString('base64'),
      }),
    );
    const v = r.kvs?.[0]?.value;
    return v === undefined ? undefined : Buffer.from(v, 'base64').toString();
  }

  private async anyServing<T>(fn: (endpoint: string) => Promise<T>): Promise<T> {
    let last: unknown = new Error('no etcd member serves');
    for (const ep of this.endpointsServing()) {
      try {
        return await fn(ep);
      } catch (e) {
        last = e;
      }
    }
    throw last;
  }

  /**
   * A snapshot of the cluster from any serving member (etcd's /v3/maintenance/snapshot stream, the
   * same call the reconciler's backups make) into `file`; its size and SHA-256.
   */
  async snapshotTo(file: string): Promise<{ bytes: number; sha256: string }> {
    return this.anyServing(async (ep) => {
      const hash = createHash('sha256');
      const out = createWriteStream(file, { mode: 0o600 });
      let bytes = 0;
      try {
        for await (const chunk of this.client.snapshot(ep)) {
          hash.update(chunk);
          bytes += chunk.length;
          if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', () => r()));
        }
      } finally {
        await new Promise<void>((r) => out.end(r));
      }
      return { bytes, sha256: hash.digest('hex') };
    });
  }

  /**
   * The seed of a restore (master.sh restore_watch / restore_seed_data): etcd stops, the snapshot is
   * checked and restored into a new one-member cluster (heal/restore.ts restoreSnapshotOnNode, with
   * `etcdutl snapshot restore`; the old data moved aside), then etcd starts on it with `params`.
   */
  async restore(
    simIp: string,
    params: JoinParameters,
    snapshot: { file: string; sha256: string },
  ): Promise<string | undefined> {
    const m = this.memberOf(simIp, params.name, params);
    if (m.broken) return 'etcd.service cannot start (the service is broken)';
    const child = m.process;
    if (child) {
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGCONT');
      child.kill('SIGTERM');
      await exited;
    }
    try {
      await restoreSnapshotOnNode({
        snapshotPath: snapshot.file,
        expectedSha256: snapshot.sha256,
        name: params.name,
        peerURL: peerURL(m.loopIp, 'https', this.opts.peerPort),
        dataDir: m.dataDir,
        etcdutl: locateEtcdTool('etcdutl').path,
      });
    } catch (e) {
      if (!m.process) this.spawnMember(m);
      return e instanceof Error ? e.message : String(e);
    }
    m.params = params;
    this.spawnMember(m);
    return undefined;
  }

  /**
   * EC2 may give the address of a terminated instance to a new one (ec2.ts): not while the old
   * instance's process still runs (two hosts with one address), which this says. The cloud asks
   * before it gives an address (ec2.addressBusy).
   */
  addressHeld(simIp: string): boolean {
    return this.members.get(simIp)?.gone === true;
  }

  /** A gone instance's member whose process has exited: its address starts afresh for the next instance. */
  private forget(m: RealMember): void {
    if (this.members.get(m.simIp) === m) this.members.delete(m.simIp);
  }

  /** The member record on `simIp`: never a gone instance's (that would be two hosts with one address). */
  private current(simIp: string): RealMember | undefined {
    const m = this.members.get(simIp);
    if (m?.gone)
      throw new Error(
        `real etcd: ${simIp} is used again while the etcd process of the terminated instance that had it (${m.name}) has not exited`,
      );
    return m;
  }

  /** The node starts its etcd member with the join parameters it read (the bootstrap's etcd phase). */
  start(simIp: string, name: string, params: JoinParameters): string | undefined {
    const m = this.current(simIp);
    if (m?.broken) return 'etcd.service cannot start (the service is broken)';
    if (m?.process) return undefined;
    const member = this.memberOf(simIp, name, params);
    member.params = params;
    this.spawnMember(member);
    return undefined;
  }

  /** The member record of `simIp` (its directories and certificates made on first use). */
  private memberOf(simIp: string, name: string, params: JoinParameters): RealMember {
    let m = this.current(simIp);
    if (!m) {
      const loopIp = this.loopbackOf(simIp);
      const base = join(this.opts.dir, name);
      const pkiDir = join(base, 'pki');
      mkdirSync(pkiDir, { recursive: true });
      copyFileSync(join(this.opts.caDir, 'ca.crt'), join(pkiDir, 'ca.crt'));
      copyFileSync(join(this.opts.caDir, 'ca.key'), join(pkiDir, 'ca.key'));
      m = {
        simIp,
        loopIp,
        name,
        dataDir: join(base, 'data'),
        pkiDir,
        logFile: join(base, 'etcd.log'),
        params,
        process: undefined,
        broken: false,
        frozen: false,
        downKilled: false,
        gone: false,
      };
      this.members.set(simIp, m);
    }
    return m;
  }

  private spawnMember(m: RealMember): void {
    if (this.stopped || !m.params) return;
    // systemd runs one copy of a unit: a second start while the first runs is a bug of the model
    // (the second process would fail to bind and the first would be lost track of).
    if (m.process) throw new Error(`etcd of ${m.name} is started while its process ${m.pid} still runs`);
    const initialCluster = m.params.initialCluster
      .split(',')
      .map((entry) => {
        const i = entry.indexOf('=');
        return i < 0 ? entry : `${entry.slice(0, i)}=${this.toLoop(entry.slice(i + 1))}`;
      })
      .join(',');
    const log = openSync(m.logFile, 'a');
    const child = spawn('bash', [this.script], {
      stdio: ['ignore', log, log],
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: process.env.HOME ?? this.opts.dir,
        ETCD_NAME: m.name,
        ETCD_IP: m.loopIp,
        ETCD_CLIENT_PORT: String(this.opts.clientPort),
        ETCD_PEER_PORT: String(this.opts.peerPort),
        ETCD_DATA_DIR: m.dataDir,
        ETCD_PKI_DIR: m.pkiDir,
        ETCD_INITIAL_CLUSTER: initialCluster,
        ETCD_INITIAL_CLUSTER_STATE: m.params.initialClusterState,
        ETCD_SCHEME: 'https',
        ETCD_HEARTBEAT_INTERVAL: String(this.opts.heartbeatMs ?? 50),
        ETCD_ELECTION_TIMEOUT: String(this.opts.electionMs ?? 500),
        ETCD_BIN: this.opts.etcdBin ?? etcdBinary(),
        ETCD_EXEC: '1',
      },
    });
    closeSync(log);
    live.add(child);
    m.process = child;
    m.pid = child.pid;
    m.frozen = false;
    this.stats.started++;
    child.once('exit', (code, signal) => {
      live.delete(child);
      if (m.process !== child) return;
      m.process = undefined;
      // Its instance is gone and so is its process now: the address may go to a new instance.
      if (m.gone) this.forget(m);
      if (!this.stopped && signal !== 'SIGKILL') {
        this.opts.log(
          `etcd process of ${m.name} exited (${signal ?? `code ${code}`}): ${this.lastLogLine(m)}`,
        );
      }
    });
  }

  lastLogLine(m: RealMember): string {
    if (!existsSync(m.logFile)) return '(no log)';
    const lines = readFileSync(m.logFile, 'utf8').trimEnd().split('\n');
    const last = lines.at(-1) ?? '';
    const msg = /"msg":"([^"]*)"/.exec(last)?.[1];
    const error = /"error":"((?:[^"\\]|\\.)*)"/.exec(last)?.[1];
    return (msg ? (error ? `${msg}: ${error}` : msg) : last).slice(0, 300);
  }

  /** SIGKILL (a killed instance, a crashed service). */
  kill(simIp: string): void {
    const m = this.members.get(simIp);
    const child = m?.process;
    if (!m || !child) return;
    child.kill('SIGCONT');
    child.kill('SIGKILL');
    m.frozen = false;
    this.stats.killed++;
  }

  /** The etcd service crashes; a permanent crash cannot be restarted (a broken disk, say). */
  crash(simIp: string, permanent: boolean): void {
    const m = this.members.get(simIp);
    if (!m) return;
    if (permanent) m.broken = true;
    this.kill(simIp);
  }

  /** systemd restarts the service on its data dir. */
  restart(simIp: string): string | undefined {
    const m = this.members.get(simIp);
    if (!m) return 'etcd.service was never started';
    if (m.broken) return 'etcd.service cannot start (the service is broken)';
    if (!m.process) this.spawnMember(m);
    return undefined;
  }

  running(simIp: string): boolean {
    const m = this.members.get(simIp);
    return !!m?.process && !m.frozen;
  }

  /** Brings every process in line with where its instance is (after a fault or a recovery). */
  applyPlacement(): void {
    for (const m of this.members.values()) {
      if (m.gone) continue;
      const p = this.opts.placement(m.simIp);
      if (p === 'gone') {
        m.gone = true;
        this.kill(m.simIp);
        if (!m.process) this.forget(m);
      } else if (p === 'down') {
        if (m.process) {
          m.downKilled = true;
          this.kill(m.simIp);
        }
      } else if (p === 'frozen') {
        if (m.process && !m.frozen) {
          m.process.kill('SIGSTOP');
          m.frozen = true;
        }
      } else {
        if (m.process && m.frozen) {
          m.process.kill('SIGCONT');
          m.frozen = false;
        }
        if (!m.process && m.downKilled && !m.broken) {
          m.downKilled = false;
          this.opts.log(`etcd on ${m.name} starts again on its data dir (its zone is back)`);
          this.spawnMember(m);
        }
      }
    }
  }

  /** Member list (from any serving member) and every serving member's status. */
  async poll(): Promise<RealView> {
    this.stats.polls++;
    const serving = [...this.members.values()].filter((m) => m.process && !m.frozen);
    const statuses = await Promise.all(
      serving.map((m) =>
        this.pollClient.status(this.loopClientURL(m)).then(
          (s) => [m.simIp, s] as const,
          () => undefined,
        ),
      ),
    );
    const status = new Map<string, EtcdMemberStatusReply>();
    for (const s of statuses) if (s) status.set(s[0], s[1]);
    let members: EtcdMemberReply[] = this.view.members;
    let leaderId = '0';
    for (const [simIp, s] of status) {
      if (s.leaderId === '0') continue;
      const m = this.members.get(simIp) as RealMember;
      try {
        members = (await this.pollClient.listMembers(this.loopClientURL(m))).map(this.simMember);
        leaderId = s.leaderId;
        break;
      } catch {
        /* the next one */
      }
    }
    if (leaderId === '0') members = this.view.members;
    this.view = { at: Date.now(), members, leaderId, status };
    return this.view;
  }

  /** The member on `simIp` is a voter that serves with a leader (its API server can come up). */
  servingVoter(simIp: string): boolean {
    if (!this.running(simIp)) return false;
    const s = this.view.status.get(simIp);
    if (!s || s.leaderId === '0' || s.isLearner) return false;
    return this.view.members.some((m) => !m.isLearner && m.peerURLs.some((u) => u.includes(`//${simIp}:`)));
  }

  /** Processes still alive (for the sandbox's final check). */
  livePids(): number[] {
    return liveEtcdPids();
  }

  /** Kills every process, waits for them, removes the working dir unless `keep`. */
  async stop(keep = false): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    const exits = [...this.members.values()]
      .map((m) => m.process)
      .filter((c): c is ChildProcess => !!c)
      .map(
        (c) =>
          new Promise<void>((r) => (c.exitCode !== null || c.signalCode ? r() : c.once('exit', () => r()))),
      );
    for (const m of this.members.values()) {
      if (m.process) {
        m.process.kill('SIGCONT');
        m.process.kill('SIGKILL');
      }
    }
    await Promise.all(exits);
    this.client.close();
    this.pollClient.close();
    this.kv.close();
    if (!keep) await rm(this.opts.dir, { recursive: true, force: true });
  }
}
