import { pullImage, pushImage, type UploadMode } from './image-transfer.js';
import { mixCounts, mixSequence } from './mix.js';
import { SIZES, type SizeLabel } from './sizes.js';
import type { BenchTest, TestContext, TestPlan } from './test-plan.js';

/** zb's mixed sizes: the label of each class and its weight. */
type SizeMix = ReadonlyArray<{ label: SizeLabel; weight: number }>;

function sizeClasses(mix: SizeMix): Array<{ value: number; weight: number; label: string }> {
  return mix.map(({ label, weight }) => ({ value: SIZES[label], weight, label }));
}

/** The size of each operation's image, in order, and for a mixed test how the operations split. */
function sizePlan(sizes: SizeLabel | SizeMix, requests: number): { sequence: number[]; mix?: ReturnType<typeof mixCounts> } {
  if (typeof sizes === 'string') return { sequence: mixSequence([{ value: SIZES[sizes], weight: 1 }], requests) };
  const classes = sizeClasses(sizes);
  const sequence = mixSequence(classes, requests);
  return { sequence, mix: mixCounts(classes, sequence) };
}

/** Each operation pushes a new image (layer of `size`, unique bytes) under a tag of its own. */
export function pushTest(name: string, mode: UploadMode, sizes: SizeLabel | SizeMix): BenchTest {
  const how = mode === 'monolith' ? 'monolithic upload (POST, PUT)' : 'streamed upload (POST, chunked PATCH, PUT)';
  return {
    name,
    summary: `push a new image per request, its layer by ${how}, then its config and manifest`,
    plan(context: TestContext): TestPlan {
      const { sequence, mix } = sizePlan(sizes, context.requests);
      return {
        ...(mix === undefined ? {} : { mix }),
        async setup() {
          for (const size of new Set(sequence)) await context.data.blob(size);
        },
        async operation(index, recorder) {
          const blob = (await context.data.blob(sequence[index] as number)).unique();
          await pushImage(context.target, recorder, context.ledger, context.repo, `op-${index}`, blob, mode);
        },
      };
    },
  };
}

/** Images pushed in setup (one per size used), each pulled whole by every operation that draws its size. */
export function pullTest(name: string, sizes: SizeLabel | SizeMix): BenchTest {
  return {
    name,
    summary: 'pull an image per request: HEAD and GET of its manifest, GET of its config and layer',
    plan(context: TestContext): TestPlan {
      const { sequence, mix } = sizePlan(sizes, context.requests);
      return {
        ...(mix === undefined ? {} : { mix }),
        async setup() {
          for (const size of new Set(sequence)) {
            const blob = (await context.data.blob(size)).unique();
            await pushImage(context.target, context.setupRecorder, context.ledger, context.repo, `size-${size}`, blob, 'monolith');
          }
        },
        async operation(index, recorder) {
          await pullImage(context.target, recorder, context.repo, `size-${sequence[index] as number}`);
        },
      };
    },
  };
}

/** zb's "Pull 75% and Push 25% Mixed": one image pulled by three operations in four, a new one pushed by the fourth. */
export function pullPushTest(name: string, size: SizeLabel): BenchTest {
  return {
    name,
    summary: 'pull an image (3 requests in 4) or push a new one (1 in 4), monolithic uploads',
    plan(context: TestContext): TestPlan {
      const classes = [
        { value: 'pull' as const, weight: 75, label: 'Pull' },
        { value: 'push' as const, weight: 25, label: 'Push' },
      ];
      const sequence = mixSequence(classes, context.requests);
      const bytes = SIZES[size];
      return {
        mix: mixCounts(classes, sequence),
        async setup() {
          const blob = (await context.data.blob(bytes)).unique();
          await pushImage(context.target, context.setupRecorder, context.ledger, context.repo, 'pulled', blob, 'monolith');
        },
        async operation(index, recorder) {
          if (sequence[index] === 'pull') {
            await pullImage(context.target, recorder, context.repo, 'pulled');
            return;
          }
          const blob = (await context.data.blob(bytes)).unique();
          await pushImage(context.target, recorder, context.ledger, context.repo, `op-${index}`, blob, 'monolith');
        },
      };
    },
  };
}
