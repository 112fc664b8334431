import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { parse, stringify } from 'yaml';
import type { Driver } from '../../src/storage/driver.js';
import { FilesystemDriver } from '../../src/storage/filesystem/fs-driver.js';
import { createS3Client, type S3Connection } from '../../src/storage/s3/s3-client.js';
import { S3Driver } from '../../src/storage/s3/s3-driver.js';

/**
 * The storage the porthole processes of a test run keep their content in: the local disk by
 * default, or S3 and Redis when scripts/run-tests.mjs runs the storage-independent suites (spec,
 * bad input, the clients' end-to-end tests) a second time against an s3rver and a redis-server it
 * started (PORTHOLE_TEST_STORAGE=s3, PORTHOLE_TEST_S3_ENDPOINT, PORTHOLE_TEST_REDIS_URL). Each
 * porthole then gets a bucket (and Redis keys) of its own, so that suites never see each
 * other's content.
 */
export type TestStorage =
  | { driver: 'filesystem'; root: string }
  | {
      driver: 's3';
      bucket: string;
      connection: S3Connection;
      /** The Redis the replicas on the bucket share; absent: the porthole is the bucket's single replica. */
      redisUrl?: string;
    };

/** Where the run's s3rver is, when this run is the S3 one. */
function s3Endpoint(): string | undefined {
  return process.env.PORTHOLE_TEST_STORAGE === 's3' ? process.env.PORTHOLE_TEST_S3_ENDPOINT : undefined;
}

/** s3rver checks no signature, only that the access key id is its own, S3RVER. */
export function s3rverConnection(endpoint: string): S3Connection {
  return { region: 'us-east-1', endpoint, forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } };
}

let buckets = 0;

/** The storage for a new porthole: `root` on the local disk, or a new bucket in this run's s3rver. */
export async function storageFor(root: string): Promise<TestStorage> {
  const endpoint = s3Endpoint();
  if (endpoint === undefined) return { driver: 'filesystem', root };
  const redisUrl = process.env.PORTHOLE_TEST_REDIS_URL;
  return { ...(await newBucket(endpoint)), ...(redisUrl ? { redisUrl } : {}) };
}

/** A new, empty bucket in the s3rver at `endpoint`. */
export async function newBucket(endpoint: string): Promise<{ driver: 's3'; bucket: string; connection: S3Connection }> {
  const connection = s3rverConnection(endpoint);
  const bucket = `test-${process.pid}-${(buckets += 1)}`;
  const client = createS3Client(connection);
  try {
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
  } finally {
    client.destroy();
  }
  return { driver: 's3', bucket, connection };
}

/** A config file's text with its storage section set to `storage` (other storage keys kept). */
export function configWithStorage(config: string | undefined, storage: TestStorage): string | undefined {
  if (storage.driver === 'filesystem') return config;
  const parsed = ((config === undefined ? undefined : parse(config)) ?? {}) as Record<string, unknown>;
  const section = (parsed.storage ?? {}) as Record<string, unknown>;
  const { endpoint, forcePathStyle, credentials, region } = storage.connection;
  const replicas = storage.redisUrl === undefined ? { singleReplica: true } : {};
  // s3rver answers delimited listings wrong past one level (see S3DriverOptions.delimiterListing).
  const s3 = (section.s3 ?? {}) as Record<string, unknown>;
  parsed.storage = { ...section, driver: 's3', s3: { ...s3, bucket: storage.bucket, endpoint, forcePathStyle, credentials, region, delimiterListing: false, ...replicas } };
  // Keys of their own in a Redis shared by the whole run: one bucket, one key prefix.
  if (storage.redisUrl !== undefined) parsed.redis = { url: storage.redisUrl, keyPrefix: `${storage.bucket}:` };
  return stringify(parsed);
}

/** A driver onto what a porthole stores, for tests whose subject is what is stored. */
export function driverOf(storage: TestStorage): Driver {
  if (storage.driver === 'filesystem') return new FilesystemDriver(storage.root);
  return new S3Driver({ client: createS3Client(storage.connection), bucket: storage.bucket, partSize: 5 * 1024 * 1024, delimiterListing: false });
}
