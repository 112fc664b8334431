import type { ContentLedger } from './content-ledger.js';
import type { Recorder } from './recorder.js';
import type { RegistrySession } from './registry-session.js';
import type { BlobSource } from './test-data.js';

/** What a test works with against one registry. */
export interface TestContext {
  target: RegistrySession;
  /** The registry the target caches (--upstream), for the pull-through tests. */
  upstream: RegistrySession | undefined;
  /** The path under which the target serves the upstream's repositories ('' when by the same names). */
  upstreamNamespace: string;
  data: BlobSource;
  /** This test's repository (under --repo), made for it alone. */
  repo: string;
  requests: number;
  concurrency: number;
  /** What was pushed to the target, and to the upstream, for cleanup. */
  ledger: ContentLedger;
  upstreamLedger: ContentLedger;
  /** Where setup's requests are recorded: never in the test's figures. */
  setupRecorder: Recorder;
}

/** A test's two phases: setup (not measured) and one measured operation, called -n times by -c clients. */
export interface TestPlan {
  setup(): Promise<void>;
  operation(index: number, recorder: Recorder): Promise<void>;
  /** For mixed tests: how many operations of each class (1MB: 1, 10MB: 3, ...; Pull: 4, Push: 1). */
  mix?: Record<string, number>;
  /**
   * What setup learned that the operation needs and plan() cannot make again (a digest), as plain
   * data: a worker thread builds the same plan and takes it with `adopt` instead of running setup.
   */
  handoff?(): Record<string, string>;
  adopt?(state: Record<string, string>): void;
}

/** The registry cannot run this test (no referrers API, say): reported as skipped, not failed. */
export class SkipTest extends Error {
  override name = 'SkipTest';
}

export interface BenchTest {
  name: string;
  /** One line for docs and --list-tests with --verbose. */
  summary: string;
  /** Needs --upstream (pull-through tests). */
  needsUpstream?: boolean;
  plan(context: TestContext): TestPlan;
}

/** A repository name part from a test name: "Pull Mixed 20% 1MB, ..." -> "pull-mixed-20-1mb-...". */
export function slug(name: string): string {
  return name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
}
