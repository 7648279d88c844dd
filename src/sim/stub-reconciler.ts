/**
 * A small stand-in reconciler for exercising the simulator on its own (and, with `broken`, for
 * proving the invariants catch a wrong decision). The real one is src/heal's `reconcilePass`; the
 * simulator runs that unchanged through the same ports.
 */

import {
  bootFailurePath,
  clientURL,
  hostOfURL,
  joinParameter,
  joinParameterPath,
  peerURL,
  statusParameter,
} from '../contract/protocol.js';
import type { ReconcilerConfig } from '../heal/config.js';
import type { JoinParameters, ReconcilerMemory } from '../heal/observed.js';
import type { EtcdMemberReply, EtcdMemberStatusReply, FleetInstance, HealPorts } from '../heal/ports.js';

/** A pass as the Lambda runs it; `options.remainingMs` is the invocation's remaining time (Lambda's context). */
export type Reconciler = (
  ports: HealPorts,
  config: ReconcilerConfig,
  options?: { remainingMs?: () => number },
) => Promise<unknown>;

export interface StubOptions {
  /** Deliberately wrong: add a learner even while a dead voter is still a member (rule 2). */
  addBeforeRemovingDead?: boolean;
}

export function stubReconciler(opts: StubOptions = {}): Reconciler {
  return async (ports, config) => {
    const now = ports.clock.now();
    const [group, targets, joins, failures, statusRaw] = await Promise.all([
      ports.fleet.describeGroup(config.masterGroupName),
      ports.loadBalancer.describeTargets(config.apiTargetGroupArn),
      ports.parameters.getByPath(joinParameterPath(config.cluster)),
      ports.parameters.getByPath(bootFailurePath(config.cluster)),
      ports.parameters.get(statusParameter(config.cluster)),
    ]);
    const memory: ReconcilerMemory = statusRaw
      ? (JSON.parse(statusRaw) as ReconcilerMemory)
      : { unhealthySince: {} };
    const instances = group.instances;
    const byIp = new Map(instances.filter((i) => i.privateIp).map((i) => [i.privateIp as string, i]));
    const live = (i: FleetInstance | undefined) =>
      !!i && (i.lifecycleState.startsWith('Pending') || i.lifecycleState === 'InService');
    const candidates = instances.filter((i) => live(i) && i.privateIp);
    let members: EtcdMemberReply[] | undefined;
    for (const i of candidates) {
      try {
        members = await ports.etcd.listMembers(clientURL(i.privateIp as string));
        break;
      } catch {}
    }
    const save = () => ports.parameters.put(statusParameter(config.cluster), JSON.stringify(memory));
    const hasJoin = (id: string) => joins[joinParameter(config.cluster, id)] !== undefined;

    // Lifecycle bookkeeping that needs no etcd.
    for (const i of instances) {
      if (
        i.lifecycleState === 'Pending:Wait' &&
        (failures[`${bootFailurePath(config.cluster)}${i.instanceId}`] ||
          now - i.launchTime > config.bootTimeoutMs)
      ) {
        await ports.fleet
          .completeLifecycleAction(group.name, i.instanceId, 'launching', 'ABANDON')
          .catch(() => {});
      }
    }
    if (!members) {
      if (!memory.established) {
        const seed = instances.find((i) => i.instanceId === memory.seedInstanceId);
        if (!live(seed)) {
          const pick = instances
            .filter((i) => i.lifecycleState === 'Pending:Wait' && i.privateIp)
            .sort((a, b) => a.launchTime - b.launchTime || (a.instanceId < b.instanceId ? -1 : 1))[0];
          if (pick) {
            memory.seedInstanceId = pick.instanceId;
            const params: JoinParameters = {
              name: pick.instanceId,
              initialCluster: `${pick.instanceId}=${peerURL(pick.privateIp as string)}`,
              initialClusterState: 'new',
            };
            await ports.parameters.put(
              joinParameter(config.cluster, pick.instanceId),
              JSON.stringify(params),
            );
          }
        }
      }
      await save();
      return;
    }
    memory.established = true;
    const statuses = new Map<string, EtcdMemberStatusReply | undefined>();
    for (const m of members) {
      const ep = m.clientURLs[0];
      statuses.set(m.id, ep ? await ports.etcd.status(ep).catch(() => undefined) : undefined);
    }
    const leaderId = [...statuses.values()].find((s) => s && s.leaderId !== '0')?.leaderId;
    const leaderIndex = leaderId ? statuses.get(leaderId)?.raftIndex : undefined;
    const healthy = (m: EtcdMemberReply) => {
      const s = statuses.get(m.id);
      return !m.isLearner && m.clientURLs.length > 0 && !!s && s.leaderId !== '0';
    };
    const instOf = (m: EtcdMemberReply) => byIp.get(hostOfURL(m.peerURLs[0] ?? ''));
    for (const m of members) {
      if (healthy(m) || m.isLearner) delete memory.unhealthySince[m.id];
      else memory.unhealthySince[m.id] ??= now;
    }
    const voters = members.filter((m) => !m.isLearner);
    const learner = members.find((m) => m.isLearner);
    const anyEp = members.filter(healthy).map((m) => m.clientURLs[0] as string)[0];
    const dead = members.filter((m) => {
      const i = instOf(m);
      return !i || i.lifecycleState.startsWith('Terminat');
    });
    if (anyEp) {
      const victim = dead[0];
      if (victim && !(opts.addBeforeRemovingDead && !victim.isLearner)) {
        if (victim.id === leaderId) {
          const to = voters.find((v) => v.id !== victim.id && healthy(v));
          const lep = victim.clientURLs[0];
          if (to && lep) await ports.etcd.moveLeader(lep, to.id).catch(() => {});
        } else {
          await ports.etcd.removeMember(anyEp, victim.id).then(
            () => {},
            () => {},
          );
        }
      } else if (learner) {
        const s = statuses.get(learner.id);
        if (s && leaderIndex !== undefined && s.raftIndex >= leaderIndex - config.learnerMaxLag) {
          await ports.etcd.promoteMember(anyEp, learner.id).catch(() => {});
        }
      } else if (voters.every(healthy) || opts.addBeforeRemovingDead) {
        const joiner = instances.find(
          (i) =>
            i.lifecycleState === 'Pending:Wait' &&
            i.privateIp &&
            !members?.some((m) => hostOfURL(m.peerURLs[0] ?? '') === i.privateIp),
        );
        if (joiner && voters.length <= config.expectedMasters) {
          try {
            const peer = peerURL(joiner.privateIp as string);
            const r = await ports.etcd.addLearner(anyEp, peer);
            const params: JoinParameters = {
              name: joiner.instanceId,
              initialCluster: r.members
                .map((m) => `${m.id === r.member.id ? joiner.instanceId : m.name}=${m.peerURLs[0]}`)
                .join(','),
              initialClusterState: 'existing',
              memberId: r.member.id,
            };
            await ports.parameters.put(
              joinParameter(config.cluster, joiner.instanceId),
              JSON.stringify(params),
            );
          } catch {}
        }
      }
      // Debounced death: a member unhealthy too long on a running instance gets it replaced.
      for (const m of voters) {
        const since = memory.unhealthySince[m.id];
        const i = instOf(m);
        if (
          since !== undefined &&
          now - since > config.memberUnhealthyMs &&
          i?.lifecycleState === 'InService' &&
          i.health === 'Healthy'
        ) {
          await ports.fleet.setInstanceUnhealthy(i.instanceId).catch(() => {});
        }
      }
    }
    // Joins for members whose parameters were lost.
    for (const m of members) {
      const i = instOf(m);
      if (i?.lifecycleState === 'Pending:Wait' && !hasJoin(i.instanceId) && m.isLearner) {
        const params: JoinParameters = {
          name: i.instanceId,
          initialCluster: members
            .map((x) => `${x.id === m.id ? i.instanceId : x.name}=${x.peerURLs[0]}`)
            .join(','),
          initialClusterState: 'existing',
          memberId: m.id,
        };
        await ports.parameters
          .put(joinParameter(config.cluster, i.instanceId), JSON.stringify(params))
          .catch(() => {});
      }
    }
    // Lifecycle actions and target registrations.
    const registered = new Set(targets.filter((t) => t.health !== 'draining').map((t) => t.instanceId));
    for (const i of instances) {
      const m = members.find((x) => hostOfURL(x.peerURLs[0] ?? '') === i.privateIp);
      if (
        i.lifecycleState === 'Pending:Wait' &&
        m &&
        !m.isLearner &&
        i.privateIp &&
        (await ports.probe.apiReady(i.privateIp))
      ) {
        try {
          if (!registered.has(i.instanceId))
            await ports.loadBalancer.registerTarget(config.apiTargetGroupArn, i.instanceId);
          await ports.fleet.completeLifecycleAction(group.name, i.instanceId, 'launching', 'CONTINUE');
        } catch {}
      } else if (i.lifecycleState === 'Terminating:Wait' && !m) {
        try {
          if (registered.has(i.instanceId))
            await ports.loadBalancer.deregisterTarget(config.apiTargetGroupArn, i.instanceId);
          await ports.fleet.completeLifecycleAction(group.name, i.instanceId, 'terminating', 'CONTINUE');
        } catch {}
      } else if (i.lifecycleState === 'InService' && !registered.has(i.instanceId)) {
        await ports.loadBalancer.registerTarget(config.apiTargetGroupArn, i.instanceId).catch(() => {});
      }
    }
    for (const id of registered) {
      if (!instances.some((i) => i.instanceId === id && i.lifecycleState === 'InService')) {
        const i = instances.find((x) => x.instanceId === id);
        if (i?.lifecycleState.startsWith('Pending')) continue;
        await ports.loadBalancer.deregisterTarget(config.apiTargetGroupArn, id).catch(() => {});
      }
    }
    await save().catch(() => {});
  };
}
