import { AbortMultipartUploadCommand, CompleteMultipartUploadCommand, CreateMultipartUploadCommand, PutObjectCommand, UploadPartCommand, type S3Client } from '@aws-sdk/client-s3';
import type { Readable } from 'node:stream';
import type { ObjectWriter, WriteWatch } from '../driver.js';
import { drainChunks } from '../../runtime/drain-chunks.js';
import { writtenNow } from './written-at.js';

/** Parts of one size before the size doubles: 16 MiB parts reach 16 GiB, then 32 GiB more at 32 MiB, and so on. */
const PARTS_PER_SIZE = 1000;

/** Where an S3 writer puts its object. */
export interface S3Target {
  client: S3Client;
  bucket: string;
  key: string;
  /** Bytes per part of a multipart upload (S3 wants at least 5 MiB for every part but the last). */
  partSize: number;
}

/**
 * The S3 ObjectWriter: bytes are gathered into parts of `partSize`; an object smaller than one
 * part is stored by a single PutObject at commit, a larger one by a multipart upload whose parts
 * go up as they fill (one at a time, the next filling meanwhile) and which CompleteMultipartUpload
 * makes visible, whole, at commit. Nothing of it is visible before: S3 shows a multipart
 * upload's object only once it is completed. Cancel aborts the upload (servers without
 * AbortMultipartUpload, s3rver, keep its parts until their own clean-up).
 */
export class S3Writer implements ObjectWriter {
  private buffered: Buffer[] = [];
  private bufferedBytes = 0;
  private uploadId: Promise<string> | undefined;
  private readonly parts: { ETag: string; PartNumber: number }[] = [];
  /** The part on its way up, awaited before the next is sent. */
  private sending: Promise<void> = Promise.resolve();
  private ended = false;
  private failure: unknown;
  written = 0;

  constructor(private readonly target: S3Target) {}

  async append(source: Readable, watch: WriteWatch = {}): Promise<number> {
    if (this.ended || this.failure !== undefined) throw new Error('an object writer was used after a failure, a commit or a cancel');
    let taken = 0;
    try {
      await drainChunks(source, (chunk) => {
        watch.onChunk?.(chunk);
        this.buffered.push(chunk);
        this.bufferedBytes += chunk.length;
        taken += chunk.length;
        watch.onWritten?.(taken);
        if (this.bufferedBytes >= this.partSizeNow()) return this.sendPart();
        return undefined;
      });
      await this.sending;
    } catch (err) {
      this.failure = err;
      throw err;
    }
    this.written += taken;
    return taken;
  }

  /**
   * The size of the next part: `partSize`, doubled every PARTS_PER_SIZE parts, so that an object
   * of any size fits in S3's 10,000 parts (parts may differ in size; all but the last must be at
   * least 5 MiB, which partSize is).
   */
  private partSizeNow(): number {
    return this.target.partSize * 2 ** Math.floor(this.parts.length / PARTS_PER_SIZE);
  }

  /** Sends the gathered bytes as the next part once the part before is up; resolves when that one is. */
  private sendPart(): Promise<void> {
    const body = Buffer.concat(this.buffered, this.bufferedBytes);
    this.buffered = [];
    this.bufferedBytes = 0;
    const { client, bucket, key } = this.target;
    this.uploadId ??= client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key, Metadata: writtenNow() })).then((created) => {
      if (!created.UploadId) throw new Error(`S3 gave no upload id for a multipart upload of "${key}"`);
      return created.UploadId;
    });
    const uploadId = this.uploadId;
    const previous = this.sending;
    const partNumber = this.parts.length + 1;
    const slot = { ETag: '', PartNumber: partNumber };
    this.parts.push(slot);
    this.sending = previous.then(async () => {
      const sent = await client.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId: await uploadId, PartNumber: partNumber, Body: body, ContentLength: body.length }));
      if (!sent.ETag) throw new Error(`S3 gave no ETag for part ${partNumber} of "${key}"`);
      slot.ETag = sent.ETag;
    });
    // Kept for the next append or the commit to report, not an unhandled rejection meanwhile.
    this.sending.catch(() => undefined);
    return previous;
  }

  async commit(): Promise<void> {
    if (this.ended || this.failure !== undefined) throw new Error('an object writer was committed after a failure, a commit or a cancel');
    this.ended = true;
    const { client, bucket, key } = this.target;
    try {
      if (this.uploadId === undefined) {
        const body = Buffer.concat(this.buffered, this.bufferedBytes);
        await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentLength: body.length, Metadata: writtenNow() }));
        return;
      }
      if (this.bufferedBytes > 0) void this.sendPart();
      await this.sending;
      await client.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: await this.uploadId, MultipartUpload: { Parts: this.parts } }));
    } catch (err) {
      await this.abort();
      throw err;
    } finally {
      this.buffered = [];
    }
  }

  async cancel(): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    this.buffered = [];
    await this.sending.catch(() => undefined);
    await this.abort();
  }

  private async abort(): Promise<void> {
    if (this.uploadId === undefined) return;
    const { client, bucket, key } = this.target;
    try {
      await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: await this.uploadId }));
    } catch {
      // Never rejects: the parts of an upload that was never completed are invisible anyway.
    }
  }
}
