import {
  CopyObjectCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  type ListObjectsV2CommandOutput,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { missingObject, type Driver, type FileInfo, type ObjectWriter } from '../driver.js';
import { checkedStorageKey } from '../storage-key.js';
import { assembleObject } from '../assemble-object.js';
import { isS3NotFound, isS3PreconditionFailed } from './s3-errors.js';
import { S3Writer } from './s3-writer.js';
import { WRITTEN_AT, writtenNow } from './written-at.js';
import { takeBytes } from './take-bytes.js';

/** The largest object CopyObject copies in one call; larger ones are read back and written anew. */
const MAX_COPY_BYTES = 5 * 1024 ** 3;
/** Keys DeleteObjects takes at a time. */
const DELETE_BATCH = 1000;

export interface S3DriverOptions {
  client: S3Client;
  bucket: string;
  /** Prepended to every key, with a '/': several registries (or tests) can share a bucket. */
  prefix?: string;
  /** Bytes per part of multipart uploads. */
  partSize: number;
  /**
   * List a prefix's names with a delimiter, as S3 answers in one request (default); false lists
   * every key under it and derives the names here, for servers that answer delimited listings
   * wrong (s3rver misses names whose objects lie two levels or more below the prefix).
   */
  delimiterListing?: boolean;
}

/**
 * A driver on S3 or a server that speaks its protocol. The S3 calls porthole makes (written down
 * in docs/scale-out.md, so an operator can check a server has them): GetObject (ranged),
 * HeadObject, PutObject (If-None-Match for exclusive creation), CopyObject (commits, moves and
 * use marks, the last by copying an object onto itself with its metadata replaced),
 * DeleteObject, DeleteObjects, ListObjectsV2 (with a delimiter, and without for removals), the
 * multipart calls CreateMultipartUpload, UploadPart and CompleteMultipartUpload, and
 * AbortMultipartUpload where the server has it; HeadBucket at start-up. It has no file operations:
 * the image store does without them (see Driver.files).
 */
export class S3Driver implements Driver {
  readonly name = 's3';
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;
  private readonly partSize: number;
  private readonly delimiterListing: boolean;

  constructor(options: S3DriverOptions) {
    this.delimiterListing = options.delimiterListing ?? true;
    this.client = options.client;
    this.bucket = options.bucket;
    this.prefix = options.prefix ? `${checkedStorageKey(options.prefix)}/` : '';
    this.partSize = options.partSize;
  }

  private key(path: string): string {
    return this.prefix + checkedStorageKey(path);
  }

  /** Checks that the bucket is there and reachable: a wrong bucket or endpoint fails start-up, not the first push. */
  async init(): Promise<void> {
    await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
  }

  attach(): Promise<void> {
    return this.init();
  }

  presignedGet(path: string, seconds: number): Promise<string> {
    return getSignedUrl(this.client, new GetObjectCommand({ Bucket: this.bucket, Key: this.key(path) }), { expiresIn: seconds });
  }

  async read(path: string): Promise<Buffer | undefined> {
    try {
      const object = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.key(path) }));
      return Buffer.from(await (object.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray());
    } catch (err) {
      if (isS3NotFound(err)) return undefined;
      throw err;
    }
  }

  async writeAtomic(path: string, data: Uint8Array | string): Promise<void> {
    const body = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: this.key(path), Body: body, ContentLength: body.length, Metadata: writtenNow() }));
  }

  writer(path: string): ObjectWriter {
    return new S3Writer({ client: this.client, bucket: this.bucket, key: this.key(path), partSize: this.partSize });
  }

  /**
   * A conditional PutObject (If-None-Match: *), which S3 makes atomic; the HEAD before it answers
   * the plain case on servers that ignore the condition (s3rver), where the race stays open.
   */
  async createExclusive(path: string, data: string): Promise<boolean> {
    if (await this.stat(path)) return false;
    try {
      await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: this.key(path), Body: data, IfNoneMatch: '*', Metadata: writtenNow() }));
      return true;
    } catch (err) {
      if (isS3PreconditionFailed(err)) return false;
      throw err;
    }
  }

  async stat(path: string): Promise<FileInfo | undefined> {
    try {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.key(path) }));
      const written = Number(head.Metadata?.[WRITTEN_AT]);
      return { size: head.ContentLength ?? 0, modifiedMs: Number.isFinite(written) && written > 0 ? written : (head.LastModified?.getTime() ?? 0) };
    } catch (err) {
      if (isS3NotFound(err)) return undefined;
      throw err;
    }
  }

  /** A copy of the object onto itself with its date (WRITTEN_AT) replaced: S3's only way to date an object anew. */
  async touch(path: string): Promise<boolean> {
    const info = await this.stat(path);
    if (!info) return false;
    if (info.size > MAX_COPY_BYTES) return true; // left undated: garbage collection then goes by the link's time
    try {
      await this.copy(path, path, { MetadataDirective: 'REPLACE', Metadata: writtenNow() });
      return true;
    } catch (err) {
      if (isS3NotFound(err)) return false;
      throw err;
    }
  }

  /**
   * A ranged read gives no more than the range, whatever the server sends: a server that answers
   * a range with more (s3rver takes "bytes=0-0" for the whole object) is cut short.
   */
  readStream(path: string, range?: { start: number; end: number }): Readable {
    const out = new PassThrough();
    const request = { Bucket: this.bucket, Key: this.key(path), ...(range ? { Range: `bytes=${range.start}-${range.end}` } : {}) };
    void (async () => {
      if (range && range.end < range.start) return out.end();
      const object = await this.client.send(new GetObjectCommand(request));
      const body = object.Body as Readable;
      await (range ? pipeline(body, takeBytes(range.end - range.start + 1), out) : pipeline(body, out));
    })().catch((err: unknown) => out.destroy(isS3NotFound(err) ? missingObject(`no object at "${path}"`) : (err as Error)));
    return out;
  }

  async list(path: string): Promise<string[]> {
    const prefix = `${this.key(path)}/`;
    if (!this.delimiterListing) return [...new Set((await this.keysUnder(path)).map((key) => key.slice(prefix.length).split('/')[0] as string))];
    const names: string[] = [];
    for await (const page of this.listing(prefix, '/')) {
      for (const common of page.CommonPrefixes ?? []) if (common.Prefix) names.push(common.Prefix.slice(prefix.length, -1));
      for (const object of page.Contents ?? []) if (object.Key && object.Key !== prefix) names.push(object.Key.slice(prefix.length));
    }
    return names;
  }

  /** Every key under a prefix, at any depth. */
  private async keysUnder(path: string): Promise<string[]> {
    const keys: string[] = [];
    for await (const page of this.listing(`${this.key(path)}/`)) for (const object of page.Contents ?? []) if (object.Key) keys.push(object.Key);
    return keys;
  }

  /** The pages of ListObjectsV2 under `prefix` (with `delimiter`: common prefixes instead of deeper keys), following continuation tokens. */
  private async *listing(prefix: string, delimiter?: string): AsyncGenerator<ListObjectsV2CommandOutput> {
    let token: string | undefined;
    do {
      const page = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token, ...(delimiter ? { Delimiter: delimiter } : {}) }));
      yield page;
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  async move(from: string, to: string): Promise<void> {
    const source = await this.stat(from);
    if (!source) throw missingObject(`no object at "${from}"`);
    try {
      await this.copyAnySize(from, to, source.size);
    } catch (err) {
      if (isS3NotFound(err)) throw missingObject(`no object at "${from}"`);
      throw err;
    }
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.key(from) }));
  }

  async remove(path: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.key(path) }));
    const under = await this.keysUnder(path);
    for (let at = 0; at < under.length; at += DELETE_BATCH) {
      const batch = under.slice(at, at + DELETE_BATCH).map((Key) => ({ Key }));
      const result = await this.client.send(new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: batch, Quiet: true } }));
      // Answered 200 whatever became of each key: the failures are in the body.
      const failed = result.Errors?.[0];
      if (failed) throw new Error(`S3 did not delete ${result.Errors?.length} of ${batch.length} objects under "${path}": ${failed.Key}: ${failed.Code} ${failed.Message ?? ''}`.trim());
    }
  }

  /** A server-side copy; objects past CopyObject's limit are read back into a new multipart object. */
  async commit(from: string, to: string): Promise<void> {
    if (await this.stat(to)) return;
    const source = await this.stat(from);
    if (!source) throw missingObject(`no object at "${from}"`);
    return this.copyAnySize(from, to, source.size);
  }

  /**
   * A server-side copy, or for an object past CopyObject's limit its bytes read back into a new
   * multipart object (which is dated now: garbage collection then keeps it one grace longer).
   */
  private async copyAnySize(from: string, to: string, size: number): Promise<void> {
    if (size <= MAX_COPY_BYTES) return this.copy(from, to);
    return assembleObject(this, to, [from]);
  }

  private async copy(from: string, to: string, extra: { MetadataDirective?: 'REPLACE'; Metadata?: Record<string, string> } = {}): Promise<void> {
    const source = `${this.bucket}/${this.key(from)}`.split('/').map(encodeURIComponent).join('/');
    await this.client.send(new CopyObjectCommand({ Bucket: this.bucket, Key: this.key(to), CopySource: source, ...extra }));
  }
}

