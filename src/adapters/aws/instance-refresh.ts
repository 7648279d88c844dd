/**
 * Auto Scaling instance refresh (start / describe / cancel / rollback, which moto lacks: tested with
 * aws-sdk-client-mock) and the upgrade's port over AWS: the groups with each instance's launch
 * template version, the reconciler's status document and the upgrade record in SSM.
 *
 * A refresh to the template's default version (what apply just wrote, and what the groups run as
 * `$Default`) is started WITHOUT a desired configuration, so the group stays on `$Default`; a refresh
 * to any other version (abort: back to the previous one) names it, and AWS pins the group to it when
 * the refresh succeeds (apply sets the group back to `$Default`). So does a refresh after one on
 * `$Default` that skipped outdated instances (`pin`).
 */
import {
  CancelInstanceRefreshCommand,
  DescribeAutoScalingGroupsCommand,
  DescribeInstanceRefreshesCommand,
  RollbackInstanceRefreshCommand,
  StartInstanceRefreshCommand,
} from '@aws-sdk/client-auto-scaling';
import { DescribeInstancesCommand, DescribeLaunchTemplatesCommand } from '@aws-sdk/client-ec2';
import { statusParameter } from '../../contract/protocol.js';
import { parseStatus } from '../../heal/status.js';
import type {
  GroupView,
  RefreshPreferences,
  RefreshStatus,
  RefreshView,
  UpgradeRecord,
} from '../../upgrade/model.js';
import { upgradeParameter } from '../../upgrade/model.js';
import type { UpgradePort } from '../../upgrade/ports.js';
import type { AwsClients } from './clients.js';
import { createParameterPort } from './heal-ports.js';

/** The master group's tag saying which Kubernetes version its nodes run. */
export const KUBERNETES_VERSION_TAG = 'tripod:kubernetes-version';
/** EC2 tags every instance launched from a launch template. */
const LT_VERSION_TAG = 'aws:ec2launchtemplate:version';

export async function startInstanceRefresh(
  aws: AwsClients,
  input: {
    group: string;
    /** Undefined: the group's own launch template (no desired configuration). */
    launchTemplate: { id: string; version: string } | undefined;
    preferences: RefreshPreferences;
  },
): Promise<string> {
  const p = input.preferences;
  const r = await aws.autoScaling.send(
    new StartInstanceRefreshCommand({
      AutoScalingGroupName: input.group,
      Strategy: 'Rolling',
      ...(input.launchTemplate
        ? {
            DesiredConfiguration: {
              LaunchTemplate: {
                LaunchTemplateId: input.launchTemplate.id,
                Version: input.launchTemplate.version,
              },
            },
          }
        : {}),
      Preferences: {
        MinHealthyPercentage: p.minHealthyPercentage,
        MaxHealthyPercentage: p.maxHealthyPercentage,
        SkipMatching: p.skipMatching,
        InstanceWarmup: p.instanceWarmupSeconds,
        ...(p.checkpointPercentages ? { CheckpointPercentages: p.checkpointPercentages } : {}),
        ...(p.checkpointDelaySeconds !== undefined ? { CheckpointDelay: p.checkpointDelaySeconds } : {}),
        // Standby and scale-in protected instances would block the refresh forever: replace them too.
        StandbyInstances: 'Terminate',
        ScaleInProtectedInstances: 'Refresh',
      },
    }),
  );
  return r.InstanceRefreshId ?? '';
}

/** Newest first (AWS returns them so; sorted again by start time to be sure). */
export async function describeInstanceRefreshes(aws: AwsClients, group: string): Promise<RefreshView[]> {
  const r = await aws.autoScaling.send(
    new DescribeInstanceRefreshesCommand({ AutoScalingGroupName: group, MaxRecords: 10 }),
  );
  return (r.InstanceRefreshes ?? [])
    .map((x) => {
      const v = x.DesiredConfiguration?.LaunchTemplate?.Version;
      return {
        id: x.InstanceRefreshId ?? '',
        status: (x.Status ?? 'Pending') as RefreshStatus,
        ...(x.StatusReason ? { statusReason: x.StatusReason } : {}),
        ...(x.PercentageComplete !== undefined ? { percentageComplete: x.PercentageComplete } : {}),
        ...(x.InstancesToUpdate !== undefined ? { instancesToUpdate: x.InstancesToUpdate } : {}),
        ...(v !== undefined ? { desiredVersion: v } : {}),
        startTime: x.StartTime ? x.StartTime.getTime() : 0,
      };
    })
    .sort((a, b) => b.startTime - a.startTime);
}

export async function cancelInstanceRefresh(aws: AwsClients, group: string): Promise<void> {
  await aws.autoScaling.send(new CancelInstanceRefreshCommand({ AutoScalingGroupName: group }));
}

export async function rollbackInstanceRefresh(aws: AwsClients, group: string): Promise<void> {
  await aws.autoScaling.send(new RollbackInstanceRefreshCommand({ AutoScalingGroupName: group }));
}

interface RawGroup {
  view: GroupView;
  templateId: string | undefined;
  tags: Record<string, string>;
}

async function describeGroupRaw(aws: AwsClients, name: string): Promise<RawGroup | undefined> {
  const r = await aws.autoScaling.send(
    new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [name] }),
  );
  const g = r.AutoScalingGroups?.[0];
  if (!g) return undefined;
  const lt = g.LaunchTemplate ?? g.MixedInstancesPolicy?.LaunchTemplate?.LaunchTemplateSpecification;
  const templateId = lt?.LaunchTemplateId;
  let target = lt?.Version ?? '';
  if (templateId && !/^\d+$/.test(target)) {
    const t = await aws.ec2.send(new DescribeLaunchTemplatesCommand({ LaunchTemplateIds: [templateId] }));
    const tpl = t.LaunchTemplates?.[0];
    target = String(target === '$Latest' ? tpl?.LatestVersionNumber : tpl?.DefaultVersionNumber);
  }
  const instances = (g.Instances ?? []).map((i) => ({
    instanceId: i.InstanceId ?? '',
    zone: i.AvailabilityZone ?? '',
    lifecycleState: i.LifecycleState ?? '',
    health: i.HealthStatus ?? '',
    version: i.LaunchTemplate?.Version ?? '',
  }));
  // EC2's own tag says which version an instance was launched from; the group's report of it is
  // not reliable (moto, for one, reports the group's current version for every instance).
  if (instances.length > 0) {
    const d = await aws.ec2.send(
      new DescribeInstancesCommand({ InstanceIds: instances.map((i) => i.instanceId) }),
    );
    const tagOf = new Map<string, string>();
    for (const res of d.Reservations ?? [])
      for (const inst of res.Instances ?? []) {
        const v = inst.Tags?.find((t) => t.Key === LT_VERSION_TAG)?.Value;
        if (inst.InstanceId && v) tagOf.set(inst.InstanceId, v);
      }
    for (const i of instances) i.version = tagOf.get(i.instanceId) ?? i.version;
  }
  const tags: Record<string, string> = {};
  for (const t of g.Tags ?? []) if (t.Key) tags[t.Key] = t.Value ?? '';
  return {
    view: { name, desired: g.DesiredCapacity ?? 0, targetVersion: target, instances },
    templateId,
    tags,
  };
}

export interface UpgradePortOptions {
  /** Between two looks (tests pass a fake). */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  now?: () => number;
}

const realSleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        resolve();
      },
      { once: true },
    );
  });

export function createUpgradePort(aws: AwsClients, options: UpgradePortOptions = {}): UpgradePort {
  const parameters = createParameterPort(aws.ssm);
  const templates = new Map<string, { id: string | undefined; target: string }>();
  const tagsOf = new Map<string, Record<string, string>>();
  return {
    async describeGroup(name) {
      let raw: RawGroup | undefined;
      try {
        raw = await describeGroupRaw(aws, name);
      } catch (e) {
        if (/not found/i.test((e as Error).message)) return undefined;
        throw e;
      }
      if (!raw) return undefined;
      templates.set(name, { id: raw.templateId, target: raw.view.targetVersion });
      tagsOf.set(name, raw.tags);
      return raw.view;
    },
    describeRefreshes: (group) => describeInstanceRefreshes(aws, group),
    async startRefresh(group, version, preferences, options) {
      let t = templates.get(group);
      if (!t) {
        await this.describeGroup(group);
        t = templates.get(group);
      }
      const pin = t?.id !== undefined && (version !== t.target || options?.pin === true);
      return startInstanceRefresh(aws, {
        group,
        launchTemplate: pin ? { id: t?.id as string, version } : undefined,
        preferences,
      });
    },
    cancelRefresh: (group) => cancelInstanceRefresh(aws, group),
    rollbackRefresh: (group) => rollbackInstanceRefresh(aws, group),
    async readStatus(cluster) {
      const text = await parameters.get(statusParameter(cluster));
      return text === undefined ? undefined : parseStatus(text);
    },
    async readRecord(cluster) {
      const text = await parameters.get(upgradeParameter(cluster));
      if (text === undefined) return {};
      try {
        return JSON.parse(text) as UpgradeRecord;
      } catch {
        return {};
      }
    },
    writeRecord: (cluster, record) => parameters.put(upgradeParameter(cluster), JSON.stringify(record)),
    async runningKubernetesVersion(_cluster, masterGroup) {
      if (!tagsOf.has(masterGroup)) await this.describeGroup(masterGroup);
      return tagsOf.get(masterGroup)?.[KUBERNETES_VERSION_TAG];
    },
    now: options.now ?? (() => Date.now()),
    sleep: options.sleep ?? realSleep,
  };
}
