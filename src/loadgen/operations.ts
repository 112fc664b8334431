import { performance } from 'node:perf_hooks';
import type { Recorder } from './recorder.js';
import { OperationError } from './registry-session.js';

/** What failed an operation, as counted in the report: the request and the reason. */
export function reasonOf(err: unknown): { reason: string; timeout: boolean } {
  if (err instanceof OperationError) return { reason: err.message, timeout: err.timeout };
  return { reason: err instanceof Error ? err.message : String(err), timeout: false };
}

export type Operation = (index: number, recorder: Recorder) => Promise<void>;

/**
 * `clients` clients, each taking the next operation index (`take` answers undefined when none is
 * left) as it finishes the last: each operation timed from its first request to its last, a
 * failed one counted and the client going on. `ended` hears of each operation as it ends.
 */
export async function runClients(clients: number, take: () => number | undefined, operation: Operation, recorder: Recorder, ended: (failed: boolean) => void): Promise<void> {
  const client = async (): Promise<void> => {
    for (let index = take(); index !== undefined; index = take()) {
      const begun = performance.now();
      let failed = false;
      try {
        await operation(index, recorder);
        recorder.succeeded(performance.now() - begun);
      } catch (err) {
        const { reason, timeout } = reasonOf(err);
        recorder.failed(reason, timeout);
        failed = true;
      }
      ended(failed);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, clients) }, client));
}
