import { eachBounded } from './bounded.js';
import { pullImage, pushImage, type PulledImage } from './image-transfer.js';
import { SIZES, type SizeLabel } from './sizes.js';
import type { BenchTest, TestContext, TestPlan } from './test-plan.js';

/** The name under which the target serves an upstream repository. */
function cachedName(context: TestContext): string {
  return context.upstreamNamespace === '' ? context.repo : `${context.upstreamNamespace}/${context.repo}`;
}

/** What a pull through the cache stored there: deleted at the end if the cache lets it. */
function remember(context: TestContext, pulled: PulledImage): void {
  const name = cachedName(context);
  context.ledger.manifest(name, pulled.manifestDigest);
  context.ledger.blob(name, pulled.config);
  for (const layer of pulled.layers) context.ledger.blob(name, layer);
}

function upstreamOf(context: TestContext) {
  if (!context.upstream) throw new Error('a pull-through test needs --upstream');
  return context.upstream;
}

/**
 * Cold pulls: setup pushes one image per request to the upstream, and each operation pulls one
 * the cache has never seen, through the target (which fetches it from the upstream as it serves it).
 */
export function coldPullTest(name: string, size: SizeLabel): BenchTest {
  return {
    name,
    needsUpstream: true,
    summary: `pull through the target's pull-through cache an image of ${size} it has never seen (one pushed to --upstream per request)`,
    plan(context: TestContext): TestPlan {
      return {
        async setup() {
          const upstream = upstreamOf(context);
          const stored = await context.data.blob(SIZES[size]);
          await eachBounded(context.requests, Math.min(context.concurrency, 4), async (index) => {
            await pushImage(upstream, context.setupRecorder, context.upstreamLedger, context.repo, `cold-${index}`, stored.unique(), 'monolith');
          });
        },
        async operation(index, recorder) {
          remember(context, await pullImage(context.target, recorder, cachedName(context), `cold-${index}`));
        },
      };
    },
  };
}

/** Warm pulls: one image pushed to the upstream and pulled once through the target before the measured pulls. */
export function warmPullTest(name: string, size: SizeLabel): BenchTest {
  return {
    name,
    needsUpstream: true,
    summary: `pull through the target's pull-through cache an image of ${size} it already holds (pulled once before measuring)`,
    plan(context: TestContext): TestPlan {
      return {
        async setup() {
          const upstream = upstreamOf(context);
          const stored = await context.data.blob(SIZES[size]);
          await pushImage(upstream, context.setupRecorder, context.upstreamLedger, context.repo, 'warm', stored.unique(), 'monolith');
          remember(context, await pullImage(context.target, context.setupRecorder, cachedName(context), 'warm', false));
        },
        async operation(_index, recorder) {
          await pullImage(context.target, recorder, cachedName(context), 'warm');
        },
      };
    },
  };
}
