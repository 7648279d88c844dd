/**
 * What an upgrade needs from the world. The AWS adapter (adapters/aws/instance-refresh.ts) and the
 * simulator (sim/instance-refresh.ts) implement it. The upgrade only drives the Auto Scaling groups:
 * etcd membership stays the reconciler's, and the upgrade reads it from the reconciler's status.
 */
import type { StatusDocument } from '../heal/status.js';
import type { GroupView, RefreshPreferences, RefreshView, UpgradeRecord } from './model.js';

export interface UpgradePort {
  /** Undefined when the group does not exist. */
  describeGroup(name: string): Promise<GroupView | undefined>;
  /** The group's refreshes, newest first. */
  describeRefreshes(group: string): Promise<RefreshView[]>;
  /**
   * Starts a refresh to `version` of the group's launch template; returns its id. `pin`: name the
   * version in the refresh's desired configuration even when it is the group's own (AWS then pins
   * the group to it when the refresh succeeds).
   */
  startRefresh(
    group: string,
    version: string,
    preferences: RefreshPreferences,
    options?: { pin?: boolean },
  ): Promise<string>;
  cancelRefresh(group: string): Promise<void>;
  /** Rolls an in-progress refresh back (AWS refuses when the template resolves its image from SSM). */
  rollbackRefresh(group: string): Promise<void>;
  readStatus(cluster: string): Promise<StatusDocument | undefined>;
  readRecord(cluster: string): Promise<UpgradeRecord>;
  writeRecord(cluster: string, record: UpgradeRecord): Promise<void>;
  /** The Kubernetes version the master group is tagged with (tripod:kubernetes-version), if any. */
  runningKubernetesVersion(cluster: string, masterGroup: string): Promise<string | undefined>;
  now(): number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}
