/**
 * Runs `task` again `intervalMs` after each run has finished (so a slow run is never stacked
 * on, and a run that takes as long as the interval still leaves the interval free), without
 * keeping the process alive, reporting failures instead of crashing. Returns the stop function.
 */
export function startPeriodic(intervalMs: number, task: () => Promise<unknown>, onError: (err: unknown) => void): () => void {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const schedule = (): void => {
    if (stopped) return;
    timer = setTimeout(() => {
      task()
        .catch(onError)
        .finally(schedule);
    }, intervalMs);
    timer.unref();
  };
  schedule();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
