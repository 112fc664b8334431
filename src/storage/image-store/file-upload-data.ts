import type { Readable } from 'node:stream';
import type { Digest } from '../../core/digest.js';
import type { Driver, FileOperations, WriteWatch } from '../driver.js';
import { layout } from '../layout.js';
import type { UploadData } from './upload-data.js';

/**
 * A session's bytes in one file, uploads/<id>/data, written at offsets as chunks arrive and
 * readable by the pull-through cache's readers while it grows; committed by a hard link.
 */
export class FileUploadData implements UploadData {
  readonly shared = false;

  constructor(
    private readonly driver: Driver,
    private readonly files: FileOperations,
  ) {}

  async size(id: string): Promise<number> {
    return (await this.driver.stat(layout.uploadData(id)))?.size ?? 0;
  }

  async modifiedMs(id: string): Promise<number | undefined> {
    return (await this.driver.stat(layout.uploadData(id)))?.modifiedMs;
  }

  async append(id: string, offset: number, body: Readable, watch: WriteWatch, expected: number | undefined): Promise<number> {
    const written = await this.files.writeStreamAt(layout.uploadData(id), offset, body, watch);
    if (expected !== undefined && written !== expected) await this.files.truncate(layout.uploadData(id), offset);
    return written;
  }

  read(id: string): Readable {
    return this.driver.readStream(layout.uploadData(id));
  }

  async commit(id: string, digest: Digest): Promise<void> {
    // An empty blob's session never had a chunk written to it.
    if (!(await this.driver.stat(layout.uploadData(id)))) await this.driver.writeAtomic(layout.uploadData(id), '', { durable: false });
    await this.driver.commit(layout.uploadData(id), layout.blobData(digest));
  }

  growingPath(id: string): string {
    return layout.uploadData(id);
  }
}
