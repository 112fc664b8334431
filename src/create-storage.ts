import type { PortholeConfig } from './config/schema.js';
import type { MetricsRecorder } from './observability/metrics/recorder.js';
import type { PortholeLogger } from './observability/logger.js';
import { StorageFullWatch } from './observability/storage-full-watch.js';
import { disabledTracing, type Tracing } from './observability/tracing/tracing.js';
import type { Driver } from './storage/driver.js';
import { FilesystemDriver } from './storage/filesystem/fs-driver.js';
import { ImageStore } from './storage/image-store/image-store.js';
import { InstrumentedDriver } from './storage/instrumented-driver.js';
import { LinkCache, LinkCachingDriver } from './storage/link-cache.js';
import { announcingDriver } from './storage/repository-changes.js';
import type { LocalCache } from './storage/local-cache.js';
import { StorageLocks, type JobLocks } from './storage/storage-lock.js';
import { localCoordination, type Coordination } from './coordination/coordination.js';

export interface StorageDeps {
  log: PortholeLogger;
  /**
   * For `serve`: tags and revisions are kept in memory where the storage can tell of other
   * processes' changes. Otherwise (a CLI job) this process announces its own changes instead.
   */
  serving?: boolean;
  /** serve's metrics: the driver is timed and watched for a full disk. CLI jobs have none. */
  recorder?: MetricsRecorder;
  tracing?: Tracing;
}

/** The configured storage: the image store porthole serves from, the jobs' locks, and what replicas share. */
export interface Storage {
  store: LocalCache;
  locks: JobLocks;
  /** What several replicas share (Redis), or this process alone; started by whoever serves or runs a job. */
  coordination: Coordination;
  /** The driver under the store, for jobs that read storage as it is (scrub, backup). */
  driver: Driver;
  /** Stops what the storage follows (the change feed); the driver reads storage from then on. */
  close(): void;
}

/** The configuration key that names where the storage is, and how to say where, for start-up failures and logs. */
export function storageLocation(config: PortholeConfig): { key: string; where: string } {
  const { s3 } = config.storage;
  if (config.storage.driver === 's3' && s3) return { key: 'storage.s3.bucket', where: `bucket "${s3.bucket}"${s3.prefix ? ` under "${s3.prefix}/"` : ''}${s3.endpoint ? ` at ${s3.endpoint}` : ''}` };
  return { key: 'storage.filesystem.rootDirectory', where: `"${config.storage.filesystem.rootDirectory}"` };
}

/**
 * The driver storage.driver chooses. The S3 driver is loaded only when chosen: the AWS SDK adds
 * about 20 MB of resident memory, which a porthole on its disk has no use for.
 */
async function configuredDriver(config: PortholeConfig): Promise<Driver> {
  const { s3 } = config.storage;
  if (config.storage.driver === 's3' && s3) {
    const [{ createS3Client }, { S3Driver }] = await Promise.all([import('./storage/s3/s3-client.js'), import('./storage/s3/s3-driver.js')]);
    const client = createS3Client({
      region: s3.region,
      forcePathStyle: s3.forcePathStyle,
      ...(s3.endpoint ? { endpoint: s3.endpoint } : {}),
      ...(s3.credentials ? { credentials: s3.credentials } : {}),
    });
    return new S3Driver({ client, bucket: s3.bucket, partSize: s3.partSize, delimiterListing: s3.delimiterListing, ...(s3.prefix ? { prefix: s3.prefix } : {}) });
  }
  return new FilesystemDriver(config.storage.filesystem.rootDirectory, { zeroCopy: config.storage.filesystem.sendfile });
}

/**
 * Builds the storage of a configuration, the one way: for `serve` and for every CLI job alike.
 * The image store on the driver storage.driver chooses; with a recorder, its driver timed for
 * metrics and watched for a full disk; the store traced (the undecorated store when tracing is off).
 */
export async function createStorage(config: PortholeConfig, deps: StorageDeps): Promise<Storage> {
  const tracing = deps.tracing ?? disabledTracing;
  const configured = await configuredDriver(config);
  const recorder = deps.recorder;
  let driver: Driver = configured;
  if (recorder) {
    const storageFull = new StorageFullWatch(recorder.metrics.storageFull, deps.log);
    driver = new InstrumentedDriver(configured, (operation, seconds, failure) => {
      recorder.storageOperation(operation, seconds, failure !== undefined);
      storageFull.observe(operation, failure);
    });
  }
  // serve keeps tags, revisions and blob stats in memory, a job announces what it changes of them (link-cache.ts).
  let caching: LinkCachingDriver | undefined;
  const linkCache = new LinkCache();
  if (driver.changes && deps.serving) {
    const onLost = (err: Error): void => deps.log.warn({ err }, 'storage change feed lost: tags, revisions and blob stats are read from storage on every request');
    driver = caching = new LinkCachingDriver(driver, driver.changes, onLost, linkCache);
  } else if (driver.changes) {
    driver = announcingDriver(driver, driver.changes);
  }
  // Redis' client too is loaded only when configured.
  const coordination = config.redis
    ? new (await import('./coordination/redis-coordination.js')).RedisCoordination(config.redis, deps.log.child({ module: 'redis' }))
    : localCoordination(new StorageLocks(driver));
  const onLockWait = () => {
    // Held as the work queues: the span goes under the request or job that waited.
    const scope = tracing.here();
    return (seconds: number): void => {
      recorder?.lockWaited('upload', seconds);
      scope.pastSpan('storage.lockWait', { 'porthole.lock': 'upload' }, seconds);
    };
  };
  const store = tracing.traceStore(new ImageStore(driver, { sessionLocks: coordination.keyedLocks('upload', onLockWait), redirectBlobs: config.storage.s3?.redirect === true, linkCache, broadcasts: coordination.broadcasts, spans: tracing }));
  return { store, locks: coordination.jobLocks, coordination, driver, close: () => caching?.close() };
}
