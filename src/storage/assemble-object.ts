import type { Readable } from 'node:stream';
import type { Driver } from './driver.js';

/**
 * Writes the objects at `sources`, read in order, as one new object at `target` through the
 * driver's writer: whole once committed, or cancelled and not at all. A source left half-read by
 * a failure is destroyed, since it would hold its connection to the store.
 */
export async function assembleObject(driver: Driver, target: string, sources: readonly string[]): Promise<void> {
  const writer = driver.writer(target);
  let reading: Readable | undefined;
  try {
    for (const source of sources) {
      reading = driver.readStream(source);
      await writer.append(reading);
    }
    await writer.commit();
  } catch (err) {
    reading?.destroy();
    await writer.cancel();
    throw err;
  }
}
