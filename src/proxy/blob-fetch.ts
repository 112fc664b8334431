import { Readable } from 'node:stream';
import type { Digest } from '../core/digest.js';
import type { ImageStore } from '../storage/image-store/image-store.js';
import type { Upstream } from './upstream.js';
import { UpstreamFailure } from './upstream-failure.js';

/**
 * Bytes gathered before they are appended to the cache file and offered to readers. Larger means
 * fewer appends (each takes the session's lock and re-reads its info); smaller means readers
 * trail the upstream more closely.
 */
const SEGMENT_BYTES = 4 * 1024 * 1024;

type FetchState = 'running' | 'committed' | 'failed';

/**
 * One upstream download of a blob into the cache, shared by every request that wants the blob
 * while it runs. The body is appended to an upload session segment by segment; readers follow
 * the session file as it grows. The last chunk is held back until the digest is verified, so
 * a reader can never receive a whole blob that turns out wrong; only then is the blob committed
 * and linked, so a broken transfer never leaves a bad blob in the cache.
 */
export class BlobFetch {
  /** Content-Length from the upstream; undefined until known (or when it sent none). */
  size: number | undefined;
  /** Bytes at the start of the session file that readers may read. */
  available = 0;
  state: FetchState = 'running';
  failure: Error | undefined;
  uploadId: string | undefined;
  /** Resolves once the size is known (at once from the headers, or at the end without one). */
  readonly sized: Promise<number>;
  readonly done: Promise<void>;
  private wake: () => void = () => undefined;
  private progress: Promise<void>;

  constructor(
    private readonly local: ImageStore,
    private readonly upstream: Upstream,
    private readonly localRepo: string,
    private readonly remoteRepo: string,
    readonly digest: Digest,
  ) {
    this.progress = this.nextProgress();
    let resolveSized: (size: number) => void = () => undefined;
    let rejectSized: (err: Error) => void = () => undefined;
    this.sized = new Promise<number>((resolve, reject) => {
      resolveSized = resolve;
      rejectSized = reject;
    });
    // Waiters attach later, or never (a HEAD that only needed the size); a failure is handled
    // through `failure`, so an unobserved rejection must not crash the process.
    this.sized.catch(() => undefined);
    this.done = this.run(resolveSized).catch((err: Error) => {
      this.failure = err;
      this.state = 'failed';
      rejectSized(err);
      this.notify();
      throw err;
    });
    this.done.catch(() => undefined);
  }

  /** Resolves at the next change of `available` or `state`. */
  changed(): Promise<void> {
    return this.progress;
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
    const blob = await this.upstream.getBlob(this.remoteRepo, this.digest.value);
    this.size = blob.size;
    if (blob.size !== undefined) resolveSized(blob.size);
    const session = await this.local.startUpload(this.localRepo, this.digest.algorithm);
    this.uploadId = session.id;
    const what = `${this.upstream.name} blob ${this.digest.value}`;
    try {
      let pending: Buffer[] = [];
      let pendingBytes = 0;
      let received = 0;
      for await (const chunk of blob.body as AsyncIterable<Buffer>) {
        received += chunk.length;
        this.upstream.countBlobBytes(chunk.length);
        if (blob.size !== undefined && received > blob.size) throw new UpstreamFailure(`${what}: more bytes than the ${blob.size} announced`, 'broken');
        pending.push(chunk);
        pendingBytes += chunk.length;
        if (pendingBytes - chunk.length >= SEGMENT_BYTES) {
          // Everything but the newest chunk: the blob's last bytes always stay for the final,
          // verified append.
          const segment = pending.slice(0, -1);
          pending = [chunk];
          pendingBytes = chunk.length;
          const status = await this.local.appendUpload(this.localRepo, session.id, Readable.from(segment), {});
          this.available = status.size;
          this.notify();
        }
      }
      if (blob.size !== undefined && received !== blob.size) throw new UpstreamFailure(`${what}: ${received} bytes received of the ${blob.size} announced`, 'broken');
      const final = pending.length > 0 ? { body: Readable.from(pending), options: {} } : undefined;
      await this.local.finishUpload(this.localRepo, session.id, this.digest, final);
      this.size = received;
      resolveSized(received);
      this.available = received;
      this.state = 'committed';
      this.notify();
    } catch (err) {
      blob.body.destroy();
      await this.local.cancelUpload(this.localRepo, session.id).catch(() => undefined);
      throw err;
    }
  }
}
