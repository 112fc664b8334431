import { createRequire } from 'node:module';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { freePort } from './free-port.js';
import { cleanup, tempDir } from './porthole-process.js';
import { spawnService, waitForService, type ServiceProcess } from './service-process.js';
import { createS3Client, type S3Connection } from '../../src/storage/s3/s3-client.js';
import { s3rverConnection } from './test-storage.js';

/**
 * s3rver (npm), a real S3 protocol server on loopback: the closest thing to S3 that can run here
 * (no MinIO or Ceph package exists). What it cannot show: signatures (it checks only the access key id),
 * conditional writes (it ignores If-None-Match on PUT, so createExclusive's race is not tested on
 * it), atomic overwrites (it writes an object in place), delimited listings more than one level deep (S3DriverOptions.delimiterListing), ListParts,
 * UploadPartCopy and AbortMultipartUpload (it lacks them; porthole does without).
 */
export interface S3rverProcess {
  /** http://127.0.0.1:port */
  endpoint: string;
  /** What porthole's config (and createS3Client) needs to reach it. */
  connection: S3Connection;
  /** Makes a bucket (empty). */
  createBucket(name: string): Promise<void>;
  service(): ServiceProcess;
  stop(): Promise<void>;
}

const require = createRequire(import.meta.url);

export async function startS3rver(): Promise<S3rverProcess> {
  const dir = await tempDir('s3rver');
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const bin = require.resolve('s3rver/bin/s3rver.js');
  const service = spawnService(process.execPath, [bin, '-d', dir, '-a', '127.0.0.1', '-p', String(port), '--silent', '--no-vhost-buckets']);
  await waitForService(service, 's3rver to listen', async () => {
    try {
      await fetch(endpoint);
      return true;
    } catch {
      return undefined;
    }
  });
  const connection = s3rverConnection(endpoint);
  const client = createS3Client(connection);
  return {
    endpoint,
    connection,
    async createBucket(name) {
      await client.send(new CreateBucketCommand({ Bucket: name }));
    },
    service: () => service,
    async stop() {
      client.destroy();
      await service.stop();
      await cleanup(dir);
    },
  };
}
