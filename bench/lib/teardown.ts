import { readdirSync, readFileSync } from 'node:fs';

/** Every process descended from `pid` (children first found, then theirs), from /proc. */
function descendantsOf(pid: number): number[] {
  let children: number[] = [];
  try {
    for (const task of readdirSync(`/proc/${pid}/task`)) {
      const text = readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim();
      if (text !== '') children = children.concat(text.split(' ').map(Number));
    }
  } catch {
    return [];
  }
  return children.flatMap((child) => [child, ...descendantsOf(child)]);
}

/** SIGKILLs every process this one started, directly or not, that is still alive: each by its pid. */
export function killDescendants(): void {
  for (const pid of descendantsOf(process.pid)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Gone in the meantime.
    }
  }
}

/**
 * What the harness must undo however it ends (normally, by an exception, by SIGINT or SIGTERM, or
 * at its own deadline): steps run once each, newest first, each failure reported and passed over.
 * The registries' dispose steps stop them gracefully; after them, any process still alive below
 * this one (a wrk, ab, skopeo or curl cut short) is killed by pid, so nothing is left behind.
 */
export class Teardown {
  private readonly steps: Array<{ what: string; step: () => Promise<void> }> = [];
  private running: Promise<void> | undefined;
  /** Set once a signal or the deadline has cut the run short: the failures that follow are its echo. */
  aborting = false;

  add(what: string, step: () => Promise<void>): void {
    this.steps.push({ what, step });
  }

  /** Where the steps stand now: `unwindTo` undoes those added after it. */
  mark(): number {
    return this.steps.length;
  }

  /**
   * Runs now (newest first) and forgets the steps added since `mark`: a part of the run that is
   * over (the comparison, before the s3 group) stops what it started. Nothing once `run` began.
   */
  async unwindTo(mark: number): Promise<void> {
    if (this.running !== undefined) return;
    await Teardown.runSteps(this.steps.splice(mark));
  }

  private static async runSteps(steps: Array<{ what: string; step: () => Promise<void> }>): Promise<void> {
    for (const { what, step } of steps.reverse()) {
      try {
        await step();
      } catch (err) {
        console.error(`teardown: ${what} failed: ${(err as Error).message}`);
      }
    }
  }

  run(): Promise<void> {
    this.running ??= (async () => {
      await Teardown.runSteps(this.steps);
      killDescendants();
    })();
    return this.running;
  }

  /**
   * On SIGINT or SIGTERM, or once `deadlineMs` has passed: kill the load tools and registries at
   * once (an interrupted run has nothing to wait for), remove what the steps remove, and exit.
   */
  armInterrupts(deadlineMs: number): void {
    const abort = (reason: string, code: number): void => {
      this.aborting = true;
      console.error(`\nbench: ${reason}; stopping everything it started`);
      killDescendants();
      void this.run().finally(() => process.exit(code));
    };
    process.once('SIGINT', () => abort('interrupted (SIGINT)', 130));
    process.once('SIGTERM', () => abort('terminated (SIGTERM)', 143));
    setTimeout(() => abort(`over its time bound of ${Math.round(deadlineMs / 1000)} s`, 124), deadlineMs).unref();
  }
}
