/** The shared driver contract (testing/driver-suite.ts) on the in-memory driver that unit tests use, with and without file operations. */
import { MemoryDriver } from '../../src/storage/memory/memory-driver.js';
import { driverSuite } from './testing/driver-suite.js';

for (const fileOperations of [true, false]) {
  driverSuite(`memory${fileOperations ? '' : ' (as an object store)'}`, async () => ({ driver: new MemoryDriver({ fileOperations }), dispose: async () => undefined }), {
    fileOperations,
    exclusiveCreation: true,
    atomicOverwrites: true,
    deepListing: true,
  });
}
