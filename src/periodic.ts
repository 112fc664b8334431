/**
 * Runs `task` every `intervalMs` without keeping the process alive, never two at once (a slow
 * run is not stacked on by the next tick), and reports failures instead of crashing.
 * Returns the function that stops it.
 */
export function startPeriodic(intervalMs: number, task: () => Promise<unknown>, onError: (err: unknown) => void): () => void {
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    task()
      .catch(onError)
      .finally(() => (running = false));
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
