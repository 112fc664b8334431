/**
 * The operation bench-tool-ceiling.ts has porthole-bench run against nginx: a blob GET as every
 * config and layer GET of a pull makes it (getBlob: RegistrySession.send over its DrainPool, the
 * body counted chunk by chunk and dropped). A module of its own, exporting TESTS as the catalog
 * does, so that porthole-bench's worker threads find the test by its name and build it there.
 */
import { getBlob } from '../../src/loadgen/image-transfer.js';
import type { BenchTest } from '../../src/loadgen/test-plan.js';

/** The name of the file nginx serves under v2/<repo>/blobs/ for each test. */
export const CEILING_BLOB = 'random';

function blobGet(name: string): BenchTest {
  return {
    name,
    summary: 'GET of one blob nginx serves as a static file, as a pull GETs its layers',
    plan(context) {
      return {
        async setup() {
          // The file is written before nginx starts: nothing to push.
        },
        async operation(_index, recorder) {
          await getBlob(context.target, recorder, context.repo, CEILING_BLOB, 'GET layer');
        },
      };
    },
  };
}

export const TESTS: readonly BenchTest[] = [blobGet('Blob GET 1MB'), blobGet('Blob GET 10MB')];
