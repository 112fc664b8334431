import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import type { ContentLedger } from './content-ledger.js';
import type { ProgressLine } from './progress.js';
import { Recorder, type RecorderFigures } from './recorder.js';
import type { SessionSpec } from './registry-session.js';
import { resultFromRecorder, type TestResult } from './results.js';
import type { SharedBlob } from './test-data.js';
import type { TestContext } from './test-plan.js';

/** The module of porthole-bench's own tests, where a worker thread finds a test by its name. */
export const TEST_CATALOG_MODULE = new URL('./test-catalog.js', import.meta.url).href;
const WORKER_MODULE = new URL('./thread-worker.js', import.meta.url);

/** --threads when not given: one per core, no more than there are clients. */
export function defaultThreads(concurrency: number): number {
  return Math.max(1, Math.min(availableParallelism(), concurrency));
}

/** Slots of the counters every thread shares (an Int32Array over a SharedArrayBuffer). */
export const COUNTER = { next: 0, done: 1, failed: 2 } as const;

/** What a worker thread is given (workerData): plain data, structured-clone friendly. */
export interface WorkerInput {
  testModule: string;
  testName: string;
  target: SessionSpec;
  upstream: SessionSpec | undefined;
  upstreamNamespace: string;
  repo: string;
  requests: number;
  concurrency: number;
  /** This thread's share of the clients. */
  clients: number;
  planState: Record<string, string> | undefined;
  data: SharedBlob[];
  /** COUNTER's slots: the next operation index to take, operations ended, operations failed. */
  counters: SharedArrayBuffer;
}

/** What a worker thread posts: ready (its plan built, its data adopted), each ledger entry as it is made, its figures at the end. */
export type WorkerMessage =
  | { type: 'ready' }
  | { type: 'ledger'; registry: 'target' | 'upstream'; kind: 'manifest' | 'blob'; repo: string; digest: string }
  | { type: 'result'; figures: RecorderFigures };

/** The main thread's word to start the measured operations. */
export const GO = 'go';

export interface ThreadedMeasure {
  name: string;
  testModule: string;
  context: TestContext;
  planState: Record<string, string> | undefined;
  data: SharedBlob[];
  clients: number;
  threads: number;
  progress: ProgressLine;
  mix: Record<string, number> | undefined;
}

/** Connections of a worker thread's Agent: its clients, and one spare (a token fetch, a redirect). */
function connectionsFor(clients: number): number {
  return clients + 1;
}

interface Running {
  worker: Worker;
  ready: Promise<void>;
  /** Its figures, or undefined when it ended without sending them (the reason in `crash`). */
  finished: Promise<RecorderFigures | undefined>;
  crash: string | undefined;
}

function ledgerOf(context: TestContext, registry: 'target' | 'upstream'): ContentLedger {
  return registry === 'target' ? context.ledger : context.upstreamLedger;
}

/**
 * The measured operations of a test spread over worker threads, as wrk spreads its connections:
 * each thread builds the same plan (setup's results handed over), runs its share of the clients
 * with an Agent and tokens of its own, and takes operation indices from a counter shared by all, so
 * that -n operations are done in all, each once. The clock runs from the moment every thread is
 * ready to the last one's end; their figures are merged. A thread that dies (or ends without its
 * figures) never hangs the run: the operations whose figures it took with it count as failures.
 */
export async function measureInThreads(measure: ThreadedMeasure): Promise<TestResult> {
  const { context } = measure;
  const total = context.requests;
  const counters = new Int32Array(new SharedArrayBuffer(3 * Int32Array.BYTES_PER_ELEMENT));
  const running: Running[] = [];
  for (let thread = 0; thread < measure.threads; thread += 1) {
    const clients = Math.floor(measure.clients / measure.threads) + (thread < measure.clients % measure.threads ? 1 : 0);
    const input: WorkerInput = {
      testModule: measure.testModule,
      testName: measure.name,
      target: context.target.spec(connectionsFor(clients)),
      upstream: context.upstream?.spec(2),
      upstreamNamespace: context.upstreamNamespace,
      repo: context.repo,
      requests: total,
      concurrency: context.concurrency,
      clients,
      planState: measure.planState,
      data: measure.data,
      counters: counters.buffer as SharedArrayBuffer,
    };
    const worker = new Worker(WORKER_MODULE, { workerData: input, stdout: false, stderr: false });
    const entry: Running = { worker, ready: Promise.resolve(), finished: Promise.resolve(undefined), crash: undefined };
    let markReady: () => void = () => undefined;
    entry.ready = new Promise((resolve) => (markReady = resolve));
    entry.finished = new Promise((resolve) => {
      let error: Error | undefined;
      worker.on('message', (message: WorkerMessage) => {
        if (message.type === 'ready') markReady();
        else if (message.type === 'ledger') {
          const ledger = ledgerOf(context, message.registry);
          if (message.kind === 'manifest') ledger.manifest(message.repo, message.digest);
          else ledger.blob(message.repo, message.digest);
        } else if (message.type === 'result') resolve(message.figures);
      });
      worker.once('error', (err) => (error = err));
      worker.once('exit', (code) => {
        entry.crash = error ? `${error.name}: ${error.message}` : `exited with code ${code}`;
        markReady();
        resolve(undefined);
      });
    });
    running.push(entry);
  }
  let started = performance.now();
  let figures: Array<RecorderFigures | undefined> = [];
  try {
    await Promise.all(running.map((each) => each.ready));
    started = performance.now();
    for (const each of running) each.worker.postMessage(GO);
    measure.progress.start(() => {
      const seconds = (performance.now() - started) / 1000;
      const done = Atomics.load(counters, COUNTER.done);
      const failed = Atomics.load(counters, COUNTER.failed);
      return `${measure.name}: ${done}/${total} requests, ${failed} failed, ${seconds > 0 ? ((done - failed) / seconds).toFixed(1) : '0'} req/s (${measure.threads} threads)`;
    });
    figures = await Promise.all(running.map((each) => each.finished));
  } finally {
    measure.progress.stop();
    await Promise.all(running.map((each) => each.worker.terminate()));
  }
  const durationMs = performance.now() - started;
  const recorder = new Recorder();
  const crashes: string[] = [];
  for (const [thread, each] of figures.entries()) {
    if (each) recorder.merge(each);
    else crashes.push(`worker thread ${thread + 1} ${running[thread]?.crash ?? 'ended'}`);
  }
  const missing = total - recorder.operations;
  if (missing > 0) recorder.failed(`${crashes.join('; ') || 'worker threads ended early'} (its operations' figures are lost)`, false, missing);
  return resultFromRecorder(measure.name, context.target.url, total, durationMs, recorder, measure.mix);
}
