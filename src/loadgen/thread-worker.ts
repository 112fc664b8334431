/**
 * A worker thread of porthole-bench (--threads): builds the test's plan as the main thread did
 * (taking over what setup learned instead of running it), with sessions of its own, waits for the
 * word to start, runs its share of the clients over the shared operation counter, and posts its
 * figures. See threads.ts.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { ContentLedger } from './content-ledger.js';
import { runClients } from './operations.js';
import { Recorder } from './recorder.js';
import { RegistrySession } from './registry-session.js';
import { SharedTestData } from './test-data.js';
import type { BenchTest, TestContext } from './test-plan.js';
import { COUNTER, GO, type WorkerInput, type WorkerMessage } from './threads.js';

const port = parentPort;
if (port === null) throw new Error('thread-worker.js runs as a worker thread of porthole-bench');
const input = workerData as WorkerInput;
const post = (message: WorkerMessage): void => port.postMessage(message);

const module = (await import(input.testModule)) as { TESTS?: readonly BenchTest[] };
const test = module.TESTS?.find((each) => each.name === input.testName);
if (test === undefined) throw new Error(`no test "${input.testName}" in ${input.testModule}`);
const target = RegistrySession.fromSpec(input.target);
const upstream = input.upstream === undefined ? undefined : RegistrySession.fromSpec(input.upstream);
try {
  const data = new SharedTestData(input.data);
  const context: TestContext = {
    target,
    upstream,
    upstreamNamespace: input.upstreamNamespace,
    data,
    repo: input.repo,
    requests: input.requests,
    concurrency: input.concurrency,
    ledger: new ContentLedger((kind, repo, digest) => post({ type: 'ledger', registry: 'target', kind, repo, digest })),
    upstreamLedger: new ContentLedger((kind, repo, digest) => post({ type: 'ledger', registry: 'upstream', kind, repo, digest })),
    setupRecorder: new Recorder(),
  };
  const plan = test.plan(context);
  if (input.planState !== undefined) plan.adopt?.(input.planState);
  await data.prepare();
  const go = new Promise<void>((resolve) => port.once('message', (message) => message === GO && resolve()));
  post({ type: 'ready' });
  await go;
  const counters = new Int32Array(input.counters);
  const recorder = new Recorder();
  await runClients(
    input.clients,
    () => {
      const index = Atomics.add(counters, COUNTER.next, 1);
      return index < input.requests ? index : undefined;
    },
    plan.operation.bind(plan),
    recorder,
    (failed) => {
      Atomics.add(counters, COUNTER.done, 1);
      if (failed) Atomics.add(counters, COUNTER.failed, 1);
    },
  );
  post({ type: 'result', figures: recorder.figures() });
} finally {
  await Promise.all([target.destroy(), upstream?.destroy()]);
}
