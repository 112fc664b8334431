import type { Readable } from 'node:stream';
import type { Digest } from '../../core/digest.js';
import type { WriteWatch } from '../driver.js';

/**
 * Where an upload session's bytes wait until the blob is verified, in the form the driver suits:
 * one file written at offsets on a filesystem (file-upload-data.ts), one object per chunk on an
 * object store (chunked-upload-data.ts). Either way nothing here is visible as a blob.
 */
export interface UploadData {
  /**
   * Whether another process may add to a session (replicas sharing an object store): then a
   * session's hash state kept in memory is checked against the stored size before it is used.
   */
  readonly shared: boolean;
  /** Bytes the session holds. */
  size(id: string): Promise<number>;
  /** When the session's data last changed; undefined when it holds none. */
  modifiedMs(id: string): Promise<number | undefined>;
  /**
   * Appends `body` at `offset` (the session's size), each chunk shown to `watch.onChunk` first;
   * `watch.onWritten` hears bytes that others can read as they land, where the driver can follow
   * a file. Resolves with the bytes the body held; when that is not `expected` (or the write
   * fails) nothing of this body is kept.
   */
  append(id: string, offset: number, body: Readable, watch: WriteWatch, expected: number | undefined): Promise<number>;
  /** Every byte the session holds, in order. */
  read(id: string): Readable;
  /**
   * Durably gives the session's verified bytes their home at `blob`, leaving the session as it
   * is (a retried PUT may need it until the blob is linked); a blob already there is kept.
   */
  commit(id: string, digest: Digest): Promise<void>;
  /** Where a reader finds the bytes while they are written, for drivers that can follow a file. */
  growingPath?(id: string): string;
}
