/** The shared driver contract (testing/driver-suite.ts) on the local-disk driver, with and without sendfile. */
import { rm } from 'node:fs/promises';
import { FilesystemDriver } from '../../src/storage/filesystem/fs-driver.js';
import { tempDir } from '../helpers/porthole-process.js';
import { driverSuite } from './testing/driver-suite.js';

for (const zeroCopy of [true, false]) {
  driverSuite(
    `filesystem${zeroCopy ? '' : ' (zeroCopy off)'}`,
    async () => {
      const root = await tempDir('driver-suite');
      return { driver: new FilesystemDriver(root, { zeroCopy }), dispose: () => rm(root, { recursive: true, force: true }) };
    },
    { fileOperations: true, exclusiveCreation: true, atomicOverwrites: true, deepListing: true },
  );
}
