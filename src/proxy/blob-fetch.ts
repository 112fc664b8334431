import type { Readable } from 'node:stream';
import type { Digest } from '../core/digest.js';
import type { LocalCache, UploadProgress } from '../storage/local-cache.js';
import type { Upstream, UpstreamTracing } from './upstream.js';
import { RegistryError } from '../core/errors.js';
import { blobClientError } from './upstream-errors.js';
import { isUpstreamFailure, networkFailure, UpstreamFailure } from './upstream-failure.js';
import type { SpanLink } from '../observability/tracing/tracing.js';

type FetchState = 'running' | 'committed' | 'failed';

/**
 * One upstream download of a blob into the cache, shared by every request that wants the blob
 * while it runs. The body streams into an upload session (hashed and batched like a push);
 * readers follow the session file as batches reach it, each at its own pace, by sendfile where
 * they can. The last byte is held back from them until the digest is verified, so a reader can
 * never receive a whole blob that turns out wrong; only a verified blob is committed and linked,
 * so a broken transfer never leaves a bad blob in the cache. Chunks are not held in memory on the
 * way (they would outlive V8's young generation).
 */
export class BlobFetch implements UploadProgress {
  /** Resolves with the blob's size once the download has started (its Content-Length), or at its end without one. */
  readonly sized: Promise<number>;
  readonly done: Promise<void>;
  private state: FetchState = 'running';
  /** What readers are failed with: the client's error (503 UNAVAILABLE for an upstream's failure). */
  private readersError: Error | undefined;
  /** Bytes at the start of the session file that readers may read. */
  private readable = 0;
  private uploadId: string | undefined;
  private body: Readable | undefined;
  private readBefore = false;
  private wake: () => void = () => undefined;
  private progress: Promise<void>;

  constructor(
    private readonly local: LocalCache,
    private readonly upstream: Upstream,
    private readonly localRepo: string,
    private readonly remoteRepo: string,
    readonly digest: Digest,
    /** The download's place in its trace: its upstream requests carry it on. */
    private readonly trace: UpstreamTracing,
    /** The download's span, for the requests that join it to link to. */
    readonly link?: SpanLink,
  ) {
    this.progress = this.nextProgress();
    let resolveSized: (size: number) => void = () => undefined;
    let rejectSized: (err: Error) => void = () => undefined;
    this.sized = new Promise<number>((resolve, reject) => {
      resolveSized = resolve;
      rejectSized = reject;
    });
    // Waiters attach later, or never (a HEAD that only needed the size); a failure reaches readers
    // through failure(), so an unobserved rejection must not crash the process.
    this.sized.catch(() => undefined);
    this.done = this.run(resolveSized).catch((err: Error) => {
      this.readersError = isUpstreamFailure(err) ? blobClientError(err, this.upstream.name, this.remoteRepo, this.digest.value) : err;
      this.state = 'failed';
      rejectSized(err);
      this.notify();
      throw err;
    });
    this.done.catch(() => undefined);
  }

  available(): number {
    return this.readable;
  }

  committed(): boolean {
    return this.state === 'committed';
  }

  failure(): Error | undefined {
    return this.readersError;
  }

  changed(): Promise<void> {
    return this.progress;
  }

  /** True for the first reader only: the download that this fetch was, for the pull metrics. */
  claimFirstRead(): boolean {
    const first = !this.readBefore;
    this.readBefore = true;
    return first;
  }

  /** Stops the download (at shutdown); it fails, and nothing of it is cached. */
  abort(): void {
    this.body?.destroy(new UpstreamFailure(`${this.upstream.name} blob ${this.digest.value}: porthole is shutting down`, 'broken'));
  }

  /** Bytes `start`..`end` of the blob, as far as they are downloaded and then as they come. */
  read(start: number, end: number): Readable {
    if (this.uploadId === undefined) throw new Error('a blob download is read before its size is known');
    return this.local.followUpload(this.uploadId, this.digest, this, { start, end });
  }

  private nextProgress(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.wake = resolve;
    });
  }

  private notify(): void {
    const wake = this.wake;
    this.progress = this.nextProgress();
    wake();
  }

  private async run(resolveSized: (size: number) => void): Promise<void> {
    const blob = await this.upstream.getBlob(this.remoteRepo, this.digest.value, this.trace);
    this.body = blob.body;
    let session;
    try {
      session = await this.local.startUpload(this.localRepo, this.digest.algorithm, { oneShot: true });
    } catch (err) {
      blob.body.destroy();
      blob.finished(err);
      throw err;
    }
    this.uploadId = session.id;
    const announced = blob.size;
    // An announced empty body is answered only once verified: with nothing to hold back, an
    // early answer would be a complete empty blob, whatever the digest says.
    if (announced !== undefined && announced > 0) resolveSized(announced);
    const what = `${this.upstream.name} blob ${this.digest.value}`;
    let received = 0;
    try {
      await this.local.appendUpload(this.localRepo, session.id, blob.body, {
        ...(announced === undefined ? {} : { contentLength: announced }),
        onChunk: (chunk) => {
          received += chunk.length;
          this.upstream.countBlobBytes(chunk.length);
          if (announced !== undefined && received > announced) throw new UpstreamFailure(`${what}: more bytes than the ${announced} announced`, 'broken');
        },
        onWritten: (bytes) => {
          // Without a Content-Length nobody can be answered before the end anyway.
          if (announced === undefined) return;
          this.readable = Math.min(bytes, announced - 1);
          this.notify();
        },
      });
      // Readers get the last byte once the content is verified; making it durable and linking it
      // (two fsyncs) need not hold them up.
      await this.local.finishUpload(this.localRepo, session.id, this.digest, undefined, () => {
        blob.finished();
        resolveSized(received);
        this.readable = received;
        this.notify();
      });
    } catch (err) {
      // The upstream's own failure, when there was one, says more than what it caused here.
      const fromUpstream: unknown = blob.body.errored ?? undefined;
      blob.body.destroy();
      await this.local.cancelUpload(this.localRepo, session.id).catch(() => undefined);
      const failure = failureOf(fromUpstream ?? err, fromUpstream !== undefined, what);
      blob.finished(failure);
      throw failure;
    }
    this.state = 'committed';
    this.notify();
  }
}

/**
 * What broke a download. The upstream's doing (its body failed, stalled or was cut off; the store
 * refused what it sent as the wrong length or digest) is an UpstreamFailure, which readers are
 * told as 503 UNAVAILABLE; porthole's own failures (a full disk) stay as they are.
 */
function failureOf(err: unknown, fromBody: boolean, what: string): Error {
  if (isUpstreamFailure(err)) return err;
  if (fromBody) return networkFailure(err, what);
  if (err instanceof RegistryError && err.status < 500) return new UpstreamFailure(`${what}: ${err.message}`, 'broken');
  return err instanceof Error ? err : new Error(String(err));
}
