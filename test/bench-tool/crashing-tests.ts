/**
 * Tests whose operations end the worker thread that runs them, for threads.test.ts: a module of
 * its own exporting TESTS, as porthole-bench's worker threads look a test up by its name.
 */
import type { BenchTest } from '../../src/loadgen/test-plan.js';

/** The operation index at which each test's worker thread dies. */
export const FATAL_INDEX = 3;

function dying(name: string, die: () => void): BenchTest {
  return {
    name,
    summary: 'an operation that waits a little; the one at FATAL_INDEX ends its worker thread',
    plan() {
      return {
        async setup() {
          // Nothing to set up.
        },
        async operation(index) {
          await new Promise((resolve) => setTimeout(resolve, 5));
          if (index === FATAL_INDEX) die();
        },
      };
    },
  };
}

export const TESTS: readonly BenchTest[] = [
  // In a worker thread, process.exit ends that thread only.
  dying('Exits', () => process.exit(7)),
  dying('Throws', () => {
    setImmediate(() => {
      throw new Error('the worker thread broke');
    });
  }),
];
