import { SingleBar } from 'cli-progress';
import type { JobProgress } from './progress.js';
import { freshCounts, mebibytes, rateAndEta } from './progress-counts.js';

/**
 * A bar on the terminal (cli-progress, on stderr, so stdout keeps only the result): items and
 * bytes done out of the total, rate and ETA.
 */
export function terminalProgress(action: string, stream: NodeJS.WriteStream): JobProgress {
  const counts = freshCounts(action);
  const bar = new SingleBar({
    stream,
    format: '{phase} [{bar}] {percentage}% | {itemsDone}/{itemsTotal} items | {bytesDone} of {bytesTotal} | {rate} | ETA {remaining}',
    barsize: 30,
    hideCursor: true,
    clearOnComplete: false,
    fps: 5,
  });
  let started = false;
  // The bar fills by bytes when the job knows their total (a phase may know only bytes, or items
  // of very different sizes), else by items; its ETA likewise (cli-progress's own {eta} counts
  // only what fills the bar, so it is not used).
  const byBytes = (): boolean => counts.totalBytes > 0;
  const payload = () => {
    const { rate, eta } = rateAndEta(counts, Date.now());
    return { phase: counts.phase, itemsDone: counts.items, itemsTotal: counts.totalItems, bytesDone: mebibytes(counts.bytes), bytesTotal: mebibytes(counts.totalBytes), rate, remaining: eta };
  };
  const draw = (): void => {
    const [done, total] = byBytes() ? [counts.bytes, counts.totalBytes] : [counts.items, counts.totalItems];
    if (!started) {
      started = true;
      bar.start(total, done, payload());
      return;
    }
    bar.setTotal(total);
    bar.update(done, payload());
  };
  return {
    total(items, bytes = 0) {
      counts.totalItems = items;
      counts.totalBytes = bytes;
      draw();
    },
    advance(items, bytes = 0) {
      counts.items += items;
      counts.bytes += bytes;
      draw();
    },
    phase(name) {
      if (started) bar.stop();
      started = false;
      Object.assign(counts, freshCounts(`${action} ${name}`));
    },
    stop() {
      if (started) bar.stop();
      started = false;
    },
  };
}
