import { newHash } from '../../core/digest.js';
import type { Driver } from '../../storage/driver.js';
import type { ContentHasher, HashResult } from './content-hasher.js';
import { isMediaError } from './read-errors.js';
import { isMissingObject } from '../../storage/driver.js';

/** Hashes files through the driver's own read stream: any driver, at the pace of its chunks. */
export function driverStreamHasher(driver: Driver): ContentHasher {
  return {
    async hash(path, algorithm, signal): Promise<HashResult> {
      const hash = newHash(algorithm);
      let bytes = 0;
      const stream = driver.readStream(path);
      try {
        for await (const chunk of stream) {
          if (signal.aborted) {
            stream.destroy();
            return { state: 'stopped', bytes };
          }
          hash.update(chunk as Buffer);
          bytes += (chunk as Buffer).length;
        }
      } catch (err) {
        if (bytes === 0 && isMissingObject(err)) return { state: 'missing', bytes };
        if (isMediaError(err)) return { state: 'unreadable', bytes, error: (err as Error).message };
        throw err;
      }
      return { state: 'hashed', hex: hash.digest('hex'), bytes };
    },
  };
}
