/**
 * The healing core's ports over AWS (the Lambda's side; the simulator implements the same ones):
 * FleetPort (Auto Scaling + EC2), LoadBalancerPort (ELBv2), ParameterPort (SSM) and NodeProbePort
 * (HTTPS to a master's own API server, never through the load balancer). Clients come from
 * clients.ts (`instrument` for call counting and actionable errors).
 */
import { request } from 'node:https';
import {
  type AutoScalingClient,
  type Instance as AutoScalingInstance,
  CompleteLifecycleActionCommand,
  DescribeAutoScalingGroupsCommand,
  DescribeWarmPoolCommand,
  RecordLifecycleActionHeartbeatCommand,
  SetInstanceHealthCommand,
} from '@aws-sdk/client-auto-scaling';
import { DescribeInstancesCommand, type EC2Client } from '@aws-sdk/client-ec2';
import {
  DeregisterTargetsCommand,
  DescribeTargetGroupAttributesCommand,
  DescribeTargetHealthCommand,
  type ElasticLoadBalancingV2Client,
  RegisterTargetsCommand,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import {
  DeleteParameterCommand,
  GetParameterCommand,
  GetParametersByPathCommand,
  PutParameterCommand,
  type SSMClient,
} from '@aws-sdk/client-ssm';
import { API_SERVER_PORT } from '../../contract/protocol.js';
import type { LifecycleHook } from '../../heal/actions.js';
import type { LifecycleState, TargetHealthState } from '../../heal/observed.js';
import {
  type FleetInstance,
  type FleetPort,
  isNoActiveLifecycleAction,
  type LoadBalancerPort,
  type NodeProbePort,
  type ParameterPort,
  type TargetDrainPort,
} from '../../heal/ports.js';
import { WARM_POOL_PAGE } from './autoscaling.js';
import { isAccessDenied, isNotFound } from './errors.js';

export class GroupNotFoundError extends Error {
  override name = 'GroupNotFoundError';
}

const tagsOf = (tags: Array<{ Key?: string; Value?: string }> | undefined): Record<string, string> =>
  Object.fromEntries((tags ?? []).map((t) => [t.Key ?? '', t.Value ?? '']));

/**
 * Auto Scaling's instances (a group's or its warm pool's: the same shape) as the fleet sees them,
 * with private IP and launch time from EC2 (DescribeInstances, every page). `state`: the lifecycle
 * state assumed for an instance Auto Scaling gives none for.
 */
async function fleetInstances(
  ec2: EC2Client,
  members: AutoScalingInstance[],
  state: LifecycleState,
): Promise<FleetInstance[]> {
  const details = new Map<string, { ip: string | undefined; launch: number }>();
  const ids = members.map((i) => i.InstanceId!).filter(Boolean);
  if (ids.length > 0) {
    let token: string | undefined;
    do {
      const r = await ec2.send(new DescribeInstancesCommand({ InstanceIds: ids, NextToken: token }));
      for (const res of r.Reservations ?? [])
        for (const i of res.Instances ?? [])
          details.set(i.InstanceId!, { ip: i.PrivateIpAddress, launch: i.LaunchTime?.getTime() ?? 0 });
      token = r.NextToken;
    } while (token);
  }
  return members.map((i) => ({
    instanceId: i.InstanceId!,
    zone: i.AvailabilityZone ?? '',
    privateIp: details.get(i.InstanceId!)?.ip,
    lifecycleState: (i.LifecycleState ?? state) as LifecycleState,
    health: i.HealthStatus === 'Unhealthy' ? 'Unhealthy' : 'Healthy',
    launchTime: details.get(i.InstanceId!)?.launch ?? 0,
  }));
}

/** The group as Auto Scaling describes it (one call). Throws GroupNotFoundError. */
async function describeAutoScalingGroup(autoScaling: AutoScalingClient, groupName: string) {
  const out = await autoScaling.send(
    new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [groupName] }),
  );
  const group = out.AutoScalingGroups?.[0];
  if (!group) throw new GroupNotFoundError(`Auto Scaling group ${groupName} does not exist`);
  return group;
}

/** The group's tags: one DescribeAutoScalingGroups call, no EC2 call. Throws GroupNotFoundError. */
export async function describeGroupTags(
  autoScaling: AutoScalingClient,
  groupName: string,
): Promise<Record<string, string>> {
  return tagsOf((await describeAutoScalingGroup(autoScaling, groupName)).Tags);
}

/** The group's instances and their lifecycle states: one DescribeAutoScalingGroups, no EC2 call. Throws GroupNotFoundError. */
export async function describeGroupLifecycle(
  autoScaling: AutoScalingClient,
  groupName: string,
): Promise<Array<Pick<FleetInstance, 'instanceId' | 'lifecycleState'>>> {
  return ((await describeAutoScalingGroup(autoScaling, groupName)).Instances ?? []).map((i) => ({
    instanceId: i.InstanceId!,
    lifecycleState: (i.LifecycleState ?? 'Pending') as LifecycleState,
  }));
}

/**
 * The group's warm pool instances (DescribeWarmPool: Warmed:* states; DescribeAutoScalingGroups does
 * not list them), with private IP and launch time from EC2. Empty without a warm pool.
 */
export async function describeWarmPoolInstances(
  autoScaling: AutoScalingClient,
  ec2: EC2Client,
  groupName: string,
): Promise<FleetInstance[]> {
  const pool: AutoScalingInstance[] = [];
  let token: string | undefined;
  do {
    const r = await autoScaling.send(
      new DescribeWarmPoolCommand({
        AutoScalingGroupName: groupName,
        MaxRecords: WARM_POOL_PAGE,
        NextToken: token,
      }),
    );
    pool.push(...(r.Instances ?? []));
    token = r.NextToken;
  } while (token);
  return fleetInstances(ec2, pool, 'Warmed:Pending');
}

/** One instance's tags and EC2 state, or undefined when EC2 no longer knows it. */
export async function describeInstance(
  ec2: EC2Client,
  instanceId: string,
): Promise<{ state: string; tags: Record<string, string> } | undefined> {
  try {
    const r = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
    const i = r.Reservations?.[0]?.Instances?.[0];
    if (!i) return undefined;
    return {
      state: i.State?.Name ?? 'unknown',
      tags: tagsOf(i.Tags),
    };
  } catch (e) {
    if (isNotFound(e)) return undefined;
    throw e;
  }
}

/**
 * The EC2 state of each instance, in as few DescribeInstances calls as the pages need. By the
 * `instance-id` filter, not InstanceIds: with InstanceIds one ID EC2 does not know yet (a launch not
 * yet propagated) fails the whole call with InvalidInstanceID.NotFound; filtered, it is only absent.
 */
export async function describeInstanceStates(
  ec2: EC2Client,
  instanceIds: readonly string[],
): Promise<Record<string, string>> {
  const states: Record<string, string> = {};
  if (instanceIds.length === 0) return states;
  let token: string | undefined;
  do {
    const r = await ec2.send(
      new DescribeInstancesCommand({
        Filters: [{ Name: 'instance-id', Values: [...instanceIds] }],
        NextToken: token,
      }),
    );
    for (const res of r.Reservations ?? [])
      for (const i of res.Instances ?? [])
        if (i.InstanceId) states[i.InstanceId] = i.State?.Name ?? 'unknown';
    token = r.NextToken;
  } while (token);
  return states;
}

export function createFleetPort(
  autoScaling: AutoScalingClient,
  ec2: EC2Client,
  /** The lifecycle hook name of a group (master and worker groups have their own hooks). */
  hookName: (groupName: string, hook: LifecycleHook) => string,
): FleetPort {
  return {
    async describeGroup(groupName, opts) {
      const group = await describeAutoScalingGroup(autoScaling, groupName);
      const members = await fleetInstances(ec2, group.Instances ?? [], 'Pending');
      // Skipped when the configuration says the group has no pool (`warmPool: false`). Otherwise
      // (a pool, or a configuration too old to say) read on every pass: a cluster stack from before
      // the warm pool grants no autoscaling:DescribeWarmPool (infra/tripod-cluster.yaml ReadFleet),
      // and that must not fail every pass. Denied: no pool instances this pass, and a warning in its
      // problems.
      let warm: FleetInstance[] = [];
      const warnings: string[] = [];
      try {
        if (opts?.warmPool !== false) warm = await describeWarmPoolInstances(autoScaling, ec2, groupName);
      } catch (e) {
        if (!isAccessDenied(e)) throw e;
        warnings.push(
          `warm pool of ${groupName} not read (its instances are not seen this pass): autoscaling:DescribeWarmPool is denied; update the cluster stack (infra/tripod-cluster.yaml grants it): ${e instanceof Error ? e.message : String(e)}`,
        );
      }
      return {
        name: groupName,
        desired: group.DesiredCapacity ?? 0,
        instances: [...members, ...warm],
        ...(warnings.length > 0 ? { warnings } : {}),
      };
    },
    async completeLifecycleAction(groupName, instanceId, hook, result) {
      try {
        await autoScaling.send(
          new CompleteLifecycleActionCommand({
            AutoScalingGroupName: groupName,
            LifecycleHookName: hookName(groupName, hook),
            InstanceId: instanceId,
            LifecycleActionResult: result,
          }),
        );
      } catch (e) {
        // Completed already (a duplicate event, an earlier pass) or timed out: nothing left to do.
        if (!isNoActiveLifecycleAction(e)) throw e;
      }
    },
    async recordLifecycleHeartbeat(groupName, instanceId, hook) {
      try {
        await autoScaling.send(
          new RecordLifecycleActionHeartbeatCommand({
            AutoScalingGroupName: groupName,
            LifecycleHookName: hookName(groupName, hook),
            InstanceId: instanceId,
          }),
        );
      } catch (e) {
        if (!isNoActiveLifecycleAction(e)) throw e;
      }
    },
    async setInstanceUnhealthy(instanceId) {
      await autoScaling.send(
        new SetInstanceHealthCommand({
          InstanceId: instanceId,
          HealthStatus: 'Unhealthy',
          ShouldRespectGracePeriod: false,
        }),
      );
    },
  };
}

/** ELBv2: the target groups, and a group's `deregistration_delay.timeout_seconds` (for worker hooks). */
export interface AwsLoadBalancerPort extends LoadBalancerPort, TargetDrainPort {}

export function createLoadBalancerPort(elbv2: ElasticLoadBalancingV2Client): AwsLoadBalancerPort {
  return {
    async describeTargets(targetGroupArn) {
      const r = await elbv2.send(new DescribeTargetHealthCommand({ TargetGroupArn: targetGroupArn }));
      return (r.TargetHealthDescriptions ?? [])
        .filter((d) => d.Target?.Id)
        .map((d) => ({
          instanceId: d.Target!.Id!,
          health: (d.TargetHealth?.State ?? 'initial') as TargetHealthState,
        }));
    },
    async registerTarget(targetGroupArn, instanceId) {
      await elbv2.send(
        new RegisterTargetsCommand({ TargetGroupArn: targetGroupArn, Targets: [{ Id: instanceId }] }),
      );
    },
    async deregisterTarget(targetGroupArn, instanceId) {
      try {
        await elbv2.send(
          new DeregisterTargetsCommand({ TargetGroupArn: targetGroupArn, Targets: [{ Id: instanceId }] }),
        );
      } catch (e) {
        // Deregistering a target that is gone (its instance terminated) is what we wanted.
        if (!/InvalidTarget/.test(String((e as { code?: string }).code ?? (e as Error).name))) throw e;
      }
    },
    async deregistrationDelaySeconds(targetGroupArn) {
      const r = await elbv2.send(
        new DescribeTargetGroupAttributesCommand({ TargetGroupArn: targetGroupArn }),
      );
      const v = r.Attributes?.find((a) => a.Key === 'deregistration_delay.timeout_seconds')?.Value;
      const n = v === undefined ? Number.NaN : Number(v);
      return Number.isFinite(n) ? n : 300;
    },
  };
}

/**
 * Parameter Store reads and writes. Who wrote a parameter (`writers`, ssm:DescribeParameters) is the
 * reconciler's alone: createSignalParameterPort (parameter-writers.ts), kept out of this module so the
 * Action and the CLI, which never ask, do not carry the call (infra.test.ts checks their roles).
 */
export function createParameterPort(ssm: SSMClient): Omit<ParameterPort, 'writers'> {
  return {
    async get(name) {
      try {
        const r = await ssm.send(new GetParameterCommand({ Name: name, WithDecryption: true }));
        return r.Parameter?.Value;
      } catch (e) {
        if (isNotFound(e)) return undefined;
        throw e;
      }
    },
    async getByPath(path) {
      const out: Record<string, string> = {};
      let token: string | undefined;
      do {
        const r = await ssm.send(
          new GetParametersByPathCommand({
            Path: path,
            Recursive: true,
            WithDecryption: true,
            NextToken: token,
          }),
        );
        for (const p of r.Parameters ?? []) if (p.Name && p.Value !== undefined) out[p.Name] = p.Value;
        token = r.NextToken;
      } while (token);
      return out;
    },
    async put(name, value, options) {
      await ssm.send(
        new PutParameterCommand({
          Name: name,
          Value: value,
          Type: options?.secure ? 'SecureString' : 'String',
          Overwrite: true,
          // One tier that never has to go back: SSM cannot move an Advanced parameter back to
          // Standard, so a document that once outgrew 4 KB would fail every later Standard write.
          // Intelligent-Tiering is Standard while the value fits and Advanced once it does not.
          Tier: 'Intelligent-Tiering',
        }),
      );
    },
    async delete(name) {
      try {
        await ssm.send(new DeleteParameterCommand({ Name: name }));
      } catch (e) {
        if (!isNotFound(e)) throw e;
      }
    },
  };
}

/** The PEM certificate blocks in a text (a bundle, or a JSON document that holds one). */
export function pemCertificates(text: string): string[] {
  const unescaped = text.includes('\\n') ? text.replace(/\\n/g, '\n') : text;
  return unescaped.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}

/** The PEM private key block in a text, if any. */
export function pemPrivateKey(text: string): string | undefined {
  const unescaped = text.includes('\\n') ? text.replace(/\\n/g, '\n') : text;
  return unescaped.match(/-----BEGIN ([A-Z ]*)PRIVATE KEY-----[\s\S]+?-----END \1PRIVATE KEY-----/)?.[0];
}

/**
 * Probes `https://<ip>:<port>/readyz` with the cluster's Kubernetes CA (unauthenticated: kubeadm lets
 * anyone read /readyz). Ready means HTTP 200 within the timeout; anything else, including a TLS
 * failure, is "not ready".
 */
export function createNodeProbePort(options: {
  ca: string;
  port?: number;
  timeoutMs?: number;
}): NodeProbePort {
  const port = options.port ?? API_SERVER_PORT;
  const timeout = options.timeoutMs ?? 2000;
  return {
    apiReady: (privateIp) =>
      new Promise<boolean>((resolve) => {
        const req = request(
          {
            host: privateIp,
            port,
            path: '/readyz',
            method: 'GET',
            ca: options.ca,
            timeout,
          },
          (res) => {
            res.resume();
            resolve(res.statusCode === 200);
          },
        );
        req.on('timeout', () => req.destroy(new Error('timeout')));
        req.on('error', () => resolve(false));
        req.end();
      }),
  };
}
