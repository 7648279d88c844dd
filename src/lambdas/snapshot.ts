/**
 * The reconciler's snapshot side, built as its own file next to the function's index.mjs and
 * imported on first use only: the S3 client, the multipart upload (~125 KB) and the Lambda client
 * stay out of the cold start of every other invocation.
 *  - createSnapshotter: the store a snapshot invocation streams to (etcd's snapshot stream into an
 *    S3 multipart upload, SSE-KMS, SHA-256 manifest), then retention;
 *  - createSnapshotRequester: what a pass uses to start a snapshot invocation (an asynchronous
 *    Invoke of this function with a "Snapshot Requested" event): it returns at once.
 */
import { randomUUID } from 'node:crypto';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { S3Client } from '@aws-sdk/client-s3';
import { type ApiCallCounter, instrument } from '../adapters/aws/clients.js';
import { createS3Backup, etcdSnapshotSource } from '../adapters/aws/s3-backup.js';
import type { EtcdTls } from '../adapters/etcd/client.js';
import { SNAPSHOT_DETAIL_TYPE, SNAPSHOT_EVENT_SOURCE } from '../contract/protocol.js';
import type { ReconcilerConfig } from '../heal/config.js';
import type { SnapshotRequestDetail, SnapshotRequestEvent } from '../heal/events.js';
import type { SnapshotStorePort } from './reconciler-handler.js';

type ClientConfig = { region: string; endpoint?: string } & Record<string, unknown>;

export function createSnapshotter(
  clientConfig: ClientConfig,
  counter: ApiCallCounter,
  config: ReconcilerConfig & { backupBucket: string },
  tls: EtcdTls | undefined,
): SnapshotStorePort & { close(): void } {
  const s3 = instrument(
    new S3Client({ ...clientConfig, forcePathStyle: clientConfig.endpoint !== undefined }),
    counter,
  );
  // etcd's snapshot stream: a deadline per chunk, not for the whole stream (a big database takes minutes).
  const source = etcdSnapshotSource({ ...(tls ? { tls } : {}), timeoutMs: 30_000 });
  const backup = createS3Backup({ s3, bucket: config.backupBucket, cluster: config.cluster, source });
  return {
    async take(from, reason, retentionDays) {
      const written = await backup.snapshot(from, reason);
      const pruned = await backup.prune(retentionDays);
      return { key: written.key, bytes: written.bytes, revision: written.revision, pruned };
    },
    close() {
      source.close();
      s3.destroy();
    },
  };
}

/** The event a snapshot invocation receives (EventBridge's envelope, so one parser checks it). */
export function snapshotRequestEvent(detail: SnapshotRequestDetail, region: string): SnapshotRequestEvent {
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': SNAPSHOT_DETAIL_TYPE,
    source: SNAPSHOT_EVENT_SOURCE,
    account: '',
    time: detail.requestedAt,
    region,
    resources: [],
    detail,
  };
}

export function createSnapshotRequester(
  clientConfig: ClientConfig,
  counter: ApiCallCounter,
  functionName: string,
): { request(detail: SnapshotRequestDetail): Promise<void>; close(): void } {
  const lambda = instrument(new LambdaClient(clientConfig), counter);
  return {
    async request(detail) {
      await lambda.send(
        new InvokeCommand({
          FunctionName: functionName,
          InvocationType: 'Event',
          Payload: Buffer.from(JSON.stringify(snapshotRequestEvent(detail, clientConfig.region))),
        }),
      );
    },
    close: () => lambda.destroy(),
  };
}
