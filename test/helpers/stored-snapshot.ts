import { createHash } from 'node:crypto';
import type { Driver } from '../../src/storage/driver.js';
import type { PortholeProcess } from './porthole-process.js';
import { snapshotTree } from './storage-tree.js';
import { driverOf } from './test-storage.js';

/** Records about processes rather than content, left out as snapshotTree leaves them out. */
const BOOKKEEPING = [/^jobs\/history\//, /^replicas\//];

/** Every object under `prefix`, at any depth, as keys. */
async function objectsUnder(driver: Driver, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for (const name of await driver.list(prefix)) {
    const key = prefix === '' ? name : `${prefix}/${name}`;
    if ((await driver.stat(key)) !== undefined) keys.push(key);
    keys.push(...(await objectsUnder(driver, key)));
  }
  return keys;
}

/**
 * What a porthole stores, each path mapped to its bytes' sha256, sorted by path: snapshotTree of
 * its root on the local disk, and on S3 every object of its bucket (an object store has no
 * directories to show), read through the S3 driver. Two snapshots are equal exactly when nothing
 * stored changed.
 */
export async function snapshotStored(porthole: PortholeProcess): Promise<Map<string, string>> {
  if (porthole.storage.driver === 'filesystem') return snapshotTree(porthole.root);
  const driver = driverOf(porthole.storage);
  // The top level lists as names directly under '', which the driver's keys cannot express.
  const top = ['blobs', 'repositories', 'uploads', 'completed-uploads', 'jobs', 'replicas'];
  const keys = (await Promise.all(top.map((prefix) => objectsUnder(driver, prefix)))).flat();
  const snapshot = new Map<string, string>();
  for (const key of keys.filter((key) => !BOOKKEEPING.some((pattern) => pattern.test(key))).sort()) {
    const bytes = await driver.read(key);
    if (bytes !== undefined) snapshot.set(key, createHash('sha256').update(bytes).digest('hex'));
  }
  return snapshot;
}
