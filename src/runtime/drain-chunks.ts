import { finished, type Readable } from 'node:stream';

/**
 * Feeds every chunk of `source` to `take`, pausing the source while a promise `take` returned
 * is pending (backpressure without stream plumbing). Resolves when the source has ended and
 * every chunk was taken; rejects with the first error: the source's (a client that hung up is
 * a premature close) or `take`'s. Upload bodies arrive in ~64 KiB chunks, thousands per blob;
 * the Transform and async-iterator stages this replaces cost more per chunk than hashing it.
 */
export function drainChunks(source: Readable, take: (chunk: Buffer) => Promise<void> | void): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let settled = false;
    let ended = false;
    let pending: Promise<void> | undefined;
    /** Stops listening; false when the promise was already settled. */
    const stop = (): boolean => {
      if (settled) return false;
      settled = true;
      source.off('data', onData);
      stopWatching();
      return true;
    };
    const succeed = (): void => {
      if (stop()) resolve();
    };
    const fail = (err: unknown): void => {
      if (!stop()) return;
      // The caller cleans up (cuts the file back) once nothing it started is still running.
      void (pending ?? Promise.resolve()).catch(() => undefined).then(() => reject(err));
    };
    const onData = (chunk: Buffer): void => {
      let result: Promise<void> | void;
      try {
        result = take(chunk);
      } catch (err) {
        fail(err);
        return;
      }
      if (!result) return;
      // At most one pending take: no more data until it is done ('end' also waits while paused).
      source.pause();
      pending = result;
      result.then(
        () => {
          pending = undefined;
          if (ended) succeed();
          else if (!settled) source.resume();
        },
        (err: unknown) => {
          pending = undefined;
          fail(err);
        },
      );
    };
    const stopWatching = finished(source, { writable: false }, (err) => {
      if (err) return fail(err);
      // A source may end while paused, its last chunk still being taken: done once that is.
      ended = true;
      if (!pending) succeed();
    });
    source.on('data', onData);
  });
}
