import { getCatalog, getManifest, getReferrers, getTagsList, headManifest } from './tests-listing.js';
import { coldPullTest, warmPullTest } from './tests-pull-through.js';
import { pullPushTest, pullTest, pushTest } from './tests-push-pull.js';
import type { BenchTest } from './test-plan.js';

const PULL_MIX = [
  { label: '1MB', weight: 20 },
  { label: '10MB', weight: 70 },
  { label: '100MB', weight: 10 },
] as const;
const CHUNK_MIX = [
  { label: '1MB', weight: 33 },
  { label: '10MB', weight: 33 },
  { label: '100MB', weight: 33 },
] as const;

/**
 * Every test, in the order they run: zb's, with zb's names (so that a -t written for zb selects
 * the same ones), then porthole-bench's own.
 */
export const TESTS: readonly BenchTest[] = [
  getCatalog,
  pushTest('Push Monolith 1MB', 'monolith', '1MB'),
  pushTest('Push Monolith 10MB', 'monolith', '10MB'),
  pushTest('Push Monolith 100MB', 'monolith', '100MB'),
  pushTest('Push Chunk Streamed 1MB', 'streamed', '1MB'),
  pushTest('Push Chunk Streamed 10MB', 'streamed', '10MB'),
  pushTest('Push Chunk Streamed 100MB', 'streamed', '100MB'),
  pullTest('Pull 1MB', '1MB'),
  pullTest('Pull 10MB', '10MB'),
  pullTest('Pull 100MB', '100MB'),
  pullTest('Pull Mixed 20% 1MB, 70% 10MB, 10% 100MB', PULL_MIX),
  pushTest('Push Monolith Mixed 20% 1MB, 70% 10MB, 10% 100MB', 'monolith', PULL_MIX),
  pushTest('Push Chunk Mixed 33% 1MB, 33% 10MB, 33% 100MB', 'streamed', CHUNK_MIX),
  pullPushTest('Pull 75% and Push 25% Mixed 1MB', '1MB'),
  pullPushTest('Pull 75% and Push 25% Mixed 10MB', '10MB'),
  pullPushTest('Pull 75% and Push 25% Mixed 100MB', '100MB'),
  coldPullTest('On-demand Sync 100MB', '100MB'),
  coldPullTest('On-demand Sync 1GB', '1GB'),
  getManifest,
  headManifest,
  getTagsList,
  getReferrers,
  coldPullTest('Pull-through Cold 10MB', '10MB'),
  warmPullTest('Pull-through Warm 10MB', '10MB'),
];

/** The tests a -t expression selects (all without one), in their order. */
export function selectTests(pattern: RegExp | undefined): BenchTest[] {
  return TESTS.filter((test) => pattern === undefined || pattern.test(test.name));
}
