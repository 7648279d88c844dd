/**
 * The reconciler's snapshot store (rule 10: snapshot etcd to S3 before a membership change), built
 * as its own file next to the function's index.mjs and imported on the first snapshot only: the S3
 * client and the multipart upload (~125 KB) stay out of the cold start of every other invocation.
 * The scheduled backup pass (every `backupIntervalMinutes`) uses the same store.
 */
import { S3Client } from '@aws-sdk/client-s3';
import { type ApiCallCounter, instrument } from '../adapters/aws/clients.js';
import { createS3Backup, etcdSnapshotSource } from '../adapters/aws/s3-backup.js';
import type { EtcdTls } from '../adapters/etcd/client.js';
import type { ReconcilerConfig } from '../heal/config.js';
import type { BackupPort } from '../heal/ports.js';
import type { ScheduledBackupPort } from './reconciler-handler.js';

export function createSnapshotter(
  clientConfig: { region: string; endpoint?: string } & Record<string, unknown>,
  counter: ApiCallCounter,
  config: ReconcilerConfig & { backupBucket: string },
  tls: EtcdTls | undefined,
): BackupPort & ScheduledBackupPort & { close(): void } {
  const s3 = instrument(
    new S3Client({ ...clientConfig, forcePathStyle: clientConfig.endpoint !== undefined }),
    counter,
  );
  const source = etcdSnapshotSource(tls ? { tls } : {});
  const backup = createS3Backup({ s3, bucket: config.backupBucket, cluster: config.cluster, source });
  return {
    snapshot: (from, reason) => backup.snapshot(from, reason),
    scheduled: (from, schedule) => backup.scheduled(from, schedule),
    close() {
      source.close();
      s3.destroy();
    },
  };
}
