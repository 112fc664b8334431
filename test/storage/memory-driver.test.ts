/** The shared driver contract (testing/driver-suite.ts) on the in-memory driver that unit tests use. */
import { MemoryDriver } from '../../src/storage/memory/memory-driver.js';
import { driverSuite } from './testing/driver-suite.js';

driverSuite('memory', async () => ({ driver: new MemoryDriver(), dispose: async () => undefined }), { positionedWrites: true, touch: true, renamesDirectories: true, followsGrowingFiles: true });
