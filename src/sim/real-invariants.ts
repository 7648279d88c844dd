/**
 * Invariants and convergence with REAL etcd: the simulator cannot see inside etcd processes, so a
 * watch polls the real cluster (member list + every serving member's status) a few times a second
 * and checks what it sees: at most one learner, the quorum margin (healthy voters minus quorum),
 * and, from a fresh look right before each membership change the reconciler makes, that the change
 * keeps quorum and that no other learner is in flight. It also says whether the cluster has converged (M voting members, all answering, on the InService masters,
 * every one registered, spread over the zones that are up, no lifecycle action pending).
 */

import { quorumOf } from '../cluster-spec/topology.js';
import { hostOfURL } from '../contract/protocol.js';
import type { EtcdMemberReply } from '../heal/ports.js';
import type { SimCloud } from './cloud.js';
import type { RealEtcd } from './etcd-real.js';

const ipOf = (m: EtcdMemberReply) => hostOfURL(m.peerURLs[0] ?? '');

export class RealWatch {
  readonly violations: string[] = [];
  private lowest = Number.POSITIVE_INFINITY;
  private running = false;
  private loop: Promise<void> | undefined;
  private lastNote = '';

  constructor(
    private readonly real: RealEtcd,
    /** Called when the quorum margin (or the learner count) changes. */
    private readonly note: (text: string) => void,
    private readonly intervalMs = 200,
  ) {
    real.beforeChange = (op, target) => this.beforeChange(op, target);
  }

  private violate(text: string): void {
    if (!this.violations.includes(text)) this.violations.push(text);
    this.note(`VIOLATION ${text}`);
  }

  /**
   * Before each membership change, from a fresh look at the real cluster: no change of ours drops
   * healthy voters below quorum, and a learner is added only when none is in flight.
   */
  private async beforeChange(op: 'add' | 'promote' | 'remove', target: string): Promise<void> {
    const v = await this.real.poll().catch(() => undefined);
    if (!v || v.leaderId === '0') return;
    const voters = v.members.filter((m) => !m.isLearner);
    const healthy = new Set(voters.filter((m) => v.status.has(ipOf(m))).map((m) => m.id));
    const hadQuorum = healthy.size >= quorumOf(voters.length);
    if (op === 'add') {
      const learner = v.members.find((m) => m.isLearner);
      if (learner && !learner.peerURLs.includes(target))
        this.violate(`one-change-in-flight: adding ${target} while learner ${learner.id} is not promoted`);
      return;
    }
    const m = v.members.find((x) => x.id === target);
    if (!m) return;
    if (op === 'remove' && !m.isLearner) {
      const after = healthy.size - (healthy.has(m.id) ? 1 : 0);
      if (hadQuorum && after < quorumOf(voters.length - 1))
        this.violate(
          `quorum: removing ${m.id} leaves ${after} healthy of ${voters.length - 1} voters (quorum ${quorumOf(voters.length - 1)})`,
        );
    }
    if (op === 'promote' && m.isLearner) {
      const after = healthy.size + (v.status.has(ipOf(m)) ? 1 : 0);
      if (hadQuorum && after < quorumOf(voters.length + 1))
        this.violate(`quorum: promoting ${m.id} leaves ${after} healthy of ${voters.length + 1} voters`);
    }
  }

  start(): void {
    this.running = true;
    this.loop = (async () => {
      while (this.running) {
        const v = await this.real.poll().catch(() => undefined);
        if (v) this.check(v);
        await new Promise((r) => setTimeout(r, this.intervalMs));
      }
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  /** Lowest margin since the last reset (0 when none was seen). */
  minMargin(): number {
    return Number.isFinite(this.lowest) ? this.lowest : 0;
  }

  resetMargin(): void {
    this.lowest = Number.POSITIVE_INFINITY;
  }

  private check(v: RealEtcd['view']): void {
    const learners = v.members.filter((m) => m.isLearner);
    if (learners.length > 1) this.violate(`one-learner: ${learners.length} learners at once`);
    const voters = v.members.filter((m) => !m.isLearner);
    if (voters.length === 0) return;
    if (v.leaderId === '0') {
      if (this.lastNote !== 'no leader') this.note('etcd has no leader');
      this.lastNote = 'no leader';
      return;
    }
    const healthy = voters.filter((m) => v.status.has(ipOf(m)));
    const q = quorumOf(voters.length);
    const margin = healthy.length - q;
    this.lowest = Math.min(this.lowest, margin);
    const text = `quorum margin ${margin} (${healthy.length} of ${voters.length} voters healthy, quorum ${q}${learners.length ? `, ${learners.length} learner` : ''})`;
    if (text !== this.lastNote) this.note(text);
    this.lastNote = text;
  }
}

/** Why the cluster is not healed yet (undefined: healed), from the cloud and the real cluster's last poll. */
export function realNotConverged(cloud: SimCloud, real: RealEtcd, since: number): string | undefined {
  const v = real.view;
  if (v.at < since) return 'waiting for a fresh look at etcd';
  if (v.leaderId === '0') return 'etcd has no leader';
  const M = cloud.config.expectedMasters;
  const voters = v.members.filter((m) => !m.isLearner);
  if (v.members.length !== voters.length) return 'a learner is not promoted yet';
  if (voters.length !== M) return `${voters.length} etcd voters, want ${M}`;
  const silent = voters.filter((m) => !v.status.has(ipOf(m)));
  if (silent.length > 0) return `${silent.length} of ${M} voters do not answer`;
  const group = cloud.group.describe();
  const inService = group.instances.filter((i) => i.lifecycleState === 'InService' && i.health === 'Healthy');
  if (group.instances.length !== M || inService.length !== M)
    return `${inService.length} of ${group.instances.length} masters InService and Healthy, want ${M}`;
  const pending = cloud.group.pendingLifecycle();
  if (pending.length > 0) return `lifecycle action pending for ${pending.map((p) => p.id).join(', ')}`;
  const ips = new Set(inService.map((i) => i.privateIp));
  const stray = voters.find((m) => !ips.has(ipOf(m)));
  if (stray) return `voter ${stray.id} is not on an InService master`;
  const registered = new Set(cloud.apiTargets.registered());
  for (const i of inService)
    if (!registered.has(i.instanceId)) return `${i.instanceId} is not registered yet`;
  for (const id of registered)
    if (!inService.some((i) => i.instanceId === id)) return `${id} is still registered`;
  const up = cloud.zones.available();
  const perZone = up.map((z) => inService.filter((i) => i.zone === z).length);
  if (Math.max(...perZone) - Math.min(...perZone) > 1)
    return `masters not spread over the zones (${perZone.join('/')})`;
  return undefined;
}
