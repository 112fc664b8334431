import type { PortholeConfig } from './config/schema.js';
import type { MetricsRecorder } from './observability/metrics/recorder.js';
import type { PortholeLogger } from './observability/logger.js';
import { StorageFullWatch } from './observability/storage-full-watch.js';
import { disabledTracing, type Tracing } from './observability/tracing/tracing.js';
import type { Driver } from './storage/driver.js';
import { FilesystemDriver } from './storage/filesystem/fs-driver.js';
import { ImageStore } from './storage/image-store/image-store.js';
import { InstrumentedDriver } from './storage/instrumented-driver.js';
import type { LocalCache } from './storage/local-cache.js';
import { StorageLocks } from './storage/storage-lock.js';

export interface StorageDeps {
  log: PortholeLogger;
  /** serve's metrics: the driver is timed and watched for a full disk. CLI jobs have none. */
  recorder?: MetricsRecorder;
  tracing?: Tracing;
}

/** The configured storage: the image store porthole serves from, and locks kept in the same storage. */
export interface Storage {
  store: LocalCache;
  locks: StorageLocks;
  /** The driver under the store, for jobs that read storage as it is (scrub, backup). */
  driver: Driver;
}

/**
 * Builds the storage of a configuration, the one way: for `serve` and for every CLI job alike.
 * The filesystem image store under storage.rootDirectory; with a recorder, its driver timed for
 * metrics and watched for a full disk; the store traced (the undecorated store when tracing is off).
 */
export function createStorage(config: PortholeConfig, deps: StorageDeps): Storage {
  const tracing = deps.tracing ?? disabledTracing;
  const filesystem = new FilesystemDriver(config.storage.rootDirectory, { zeroCopy: config.storage.sendfile });
  const recorder = deps.recorder;
  let driver: Driver = filesystem;
  if (recorder) {
    const storageFull = new StorageFullWatch(recorder.metrics.storageFull, deps.log);
    driver = new InstrumentedDriver(filesystem, (operation, seconds, failure) => {
      recorder.storageOperation(operation, seconds, failure !== undefined);
      storageFull.observe(operation, failure);
    });
  }
  const onLockWait = () => {
    // Held as the work queues: the span goes under the request or job that waited.
    const scope = tracing.here();
    return (seconds: number): void => {
      recorder?.lockWaited('upload', seconds);
      scope.pastSpan('storage.lockWait', { 'porthole.lock': 'upload' }, seconds);
    };
  };
  const store = tracing.traceStore(new ImageStore(driver, { onLockWait, spans: tracing }));
  return { store, locks: new StorageLocks(driver), driver };
}
